/** Signed-out screens: first-run setup, sign-in, and accepting an invite link. */
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { ApiError, post, type Session, type SessionState } from '../api';
import { useSessionState } from '../session';
import { useRouter } from '../router';
import { errorMessage } from '../ui';

function AuthCard({ title, subtitle, children }: { title: string; subtitle?: ReactNode; children: ReactNode }) {
  return (
    <div className="auth-screen">
      <main className="auth-card">
        <div className="brand brand-center"><span className="brand-mark" aria-hidden="true">B</span> Backbone</div>
        <h1>{title}</h1>
        {subtitle && <p className="auth-subtitle">{subtitle}</p>}
        {children}
      </main>
    </div>
  );
}

function Field({ label, hint, ...input }: { label: string; hint?: string } & React.InputHTMLAttributes<HTMLInputElement>) {
  const id = `f-${input.name}`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} aria-describedby={hint ? `${id}-hint` : undefined} {...input} />
      {hint && <span id={`${id}-hint`} className="field-hint">{hint}</span>}
    </div>
  );
}

export function SignIn() {
  const { set } = useSessionState();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    setBusy(true);
    setError(null);
    try {
      set(await post<Session>('/session', { email: f.get('email'), password: f.get('password') }));
    } catch (err) {
      setError(err instanceof ApiError && err.status === 429 ? 'Too many failed attempts. Wait a few minutes and try again.' : errorMessage(err));
    } finally { setBusy(false); }
  };
  return (
    <AuthCard title="Sign in" subtitle="Sign in to your Backbone dashboard.">
      <form onSubmit={submit} className="form">
        <Field label="Email" name="email" type="email" autoComplete="username" required autoFocus />
        <Field label="Password" name="password" type="password" autoComplete="current-password" required />
        {error && <p className="form-error" role="alert">{error}</p>}
        <button className="button button-primary button-block" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </AuthCard>
  );
}

export function Setup() {
  const { set } = useSessionState();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    if (f.get('password') !== f.get('confirm')) { setError('The passwords do not match.'); return; }
    setBusy(true);
    setError(null);
    try {
      set(await post<Session>('/setup', { organization_name: f.get('organization_name'), name: f.get('name'), email: f.get('email'), password: f.get('password') }));
    } catch (err) { setError(errorMessage(err)); } finally { setBusy(false); }
  };
  return (
    <AuthCard title="Welcome to Backbone" subtitle="Create the owner account and name your organisation. This screen is shown only once.">
      <form onSubmit={submit} className="form">
        <Field label="Organisation name" name="organization_name" required autoFocus placeholder="Acme Inc." />
        <Field label="Your name" name="name" autoComplete="name" required />
        <Field label="Email" name="email" type="email" autoComplete="username" required />
        <Field label="Password" name="password" type="password" autoComplete="new-password" minLength={10} required hint="At least 10 characters." />
        <Field label="Confirm password" name="confirm" type="password" autoComplete="new-password" minLength={10} required />
        {error && <p className="form-error" role="alert">{error}</p>}
        <button className="button button-primary button-block" disabled={busy}>{busy ? 'Creating…' : 'Create owner account'}</button>
      </form>
    </AuthCard>
  );
}

export function AcceptInvite() {
  const { state, set } = useSessionState();
  const { navigate } = useRouter();
  const token = window.location.hash.slice(1);
  const [info, setInfo] = useState<{ organization: { name: string }; role: string; email: string | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    post<typeof info>('/invites/preview', { token }).then(setInfo, (e) => setError(errorMessage(e)));
  }, [token]);

  const accept = async (body: Record<string, unknown>) => {
    setBusy(true);
    setError(null);
    try {
      const s = await post<SessionState>('/invites/accept', { token, ...body });
      set(s);
      window.history.replaceState(null, '', '/');
      navigate('/');
    } catch (e) { setError(errorMessage(e)); } finally { setBusy(false); }
  };

  if (!info) {
    return <AuthCard title="Invitation">{error ? <p className="form-error" role="alert">{error}</p> : <p>Checking your invite…</p>}</AuthCard>;
  }
  const subtitle = <>You have been invited to join <strong>{info.organization.name}</strong> as <strong>{info.role}</strong>.</>;
  if (state?.signed_in) {
    return (
      <AuthCard title="Join organisation" subtitle={subtitle}>
        <p>You are signed in as {state.user.email}.</p>
        {error && <p className="form-error" role="alert">{error}</p>}
        <button className="button button-primary button-block" disabled={busy} onClick={() => void accept({})}>Accept invitation</button>
      </AuthCard>
    );
  }
  return (
    <AuthCard title="Create your account" subtitle={subtitle}>
      <form className="form" onSubmit={(e) => {
        e.preventDefault();
        const f = new FormData(e.currentTarget);
        void accept({ email: f.get('email'), name: f.get('name'), password: f.get('password') });
      }}>
        <Field label="Your name" name="name" autoComplete="name" required autoFocus />
        <Field label="Email" name="email" type="email" autoComplete="username" required defaultValue={info.email ?? ''} readOnly={!!info.email} />
        <Field label="Password" name="password" type="password" autoComplete="new-password" minLength={10} required hint="At least 10 characters." />
        {error && <p className="form-error" role="alert">{error}</p>}
        <button className="button button-primary button-block" disabled={busy}>Accept invitation</button>
        <p className="muted small">Already have an account? <a href="/sign-in">Sign in</a> first, then open the invite link again.</p>
      </form>
    </AuthCard>
  );
}
