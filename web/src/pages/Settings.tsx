/** Settings: the organisation (name, plan: owners), a new organisation, and your password. */
import { useState, type FormEvent } from 'react';
import { get, patch, post, type Organization, type Session } from '../api';
import { useSession, useSessionState } from '../session';
import { ErrorState, Loading, PageHeader, errorMessage, useLoad, useToast } from '../ui';

export function Settings() {
  const session = useSession();
  const { refresh, set } = useSessionState();
  const toast = useToast();
  const org = useLoad(() => get<Organization>('/organization'), [session.organization?.id]);
  const isOwner = session.role === 'owner';
  const [pwError, setPwError] = useState<string | null>(null);

  const saveOrg = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    try {
      await patch('/organization', { name: f.get('name'), plan: f.get('plan') });
      toast('Organisation saved');
      org.reload();
      await refresh();
    } catch (err) { toast(errorMessage(err), 'error'); }
  };

  const changePassword = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    if (f.get('new_password') !== f.get('confirm')) { setPwError('The new passwords do not match.'); return; }
    setPwError(null);
    try {
      await post('/me/password', { current_password: f.get('current_password'), new_password: f.get('new_password') });
      form.reset();
      toast('Password changed. Your other sessions were signed out.');
    } catch (err) { setPwError(errorMessage(err)); }
  };

  const createOrg = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    try {
      const created = await post<{ id: string; name: string }>('/organizations', { name: f.get('name') });
      set(await post<Session>('/session/organization', { organization_id: created.id }));
      toast(`Created ${created.name}`);
    } catch (err) { toast(errorMessage(err), 'error'); }
  };

  return (
    <div className="page">
      <PageHeader title="Settings" />
      <section className="card">
        <h2>Organisation</h2>
        {org.loading && !org.data ? <Loading /> : org.error ? <ErrorState message={org.error} onRetry={org.reload} /> : (
          <form className="form form-narrow" onSubmit={saveOrg} key={org.data!.id + org.data!.plan}>
            <div className="field"><label htmlFor="org-name">Name</label><input id="org-name" name="name" defaultValue={org.data!.name} disabled={!isOwner} required /></div>
            <div className="field">
              <label htmlFor="org-plan">Plan</label>
              <select id="org-plan" name="plan" defaultValue={org.data!.plan} disabled={!isOwner} aria-describedby="org-plan-hint">
                {org.data!.plans.map((p) => <option key={p.name} value={p.name}>{p.name}{p.byok ? ' (BYOK)' : ''}</option>)}
              </select>
              <span id="org-plan-hint" className="field-hint">{isOwner ? 'Bring Your Own Key needs the Scale plan or above.' : 'Only an owner can change the name and plan.'}</span>
            </div>
            <div className="field"><span className="label">Slug</span><code>{org.data!.slug}</code></div>
            {isOwner && <div><button className="button button-primary">Save organisation</button></div>}
          </form>
        )}
      </section>
      <section className="card">
        <h2>Change password</h2>
        <form className="form form-narrow" onSubmit={changePassword}>
          <input type="email" name="username" autoComplete="username" value={session.user.email} readOnly hidden />
          <div className="field"><label htmlFor="pw-current">Current password</label><input id="pw-current" name="current_password" type="password" autoComplete="current-password" required /></div>
          <div className="field"><label htmlFor="pw-new">New password</label><input id="pw-new" name="new_password" type="password" autoComplete="new-password" minLength={10} required aria-describedby="pw-hint" /><span id="pw-hint" className="field-hint">At least 10 characters.</span></div>
          <div className="field"><label htmlFor="pw-confirm">Confirm new password</label><input id="pw-confirm" name="confirm" type="password" autoComplete="new-password" minLength={10} required /></div>
          {pwError && <p className="form-error" role="alert">{pwError}</p>}
          <div><button className="button button-primary">Change password</button></div>
        </form>
      </section>
      <section className="card">
        <h2>New organisation</h2>
        <p className="muted">Create another organisation; you will be its owner. Switch between organisations from the sidebar.</p>
        <form className="form form-inline" onSubmit={createOrg}>
          <div className="field"><label htmlFor="new-org">Name</label><input id="new-org" name="name" required maxLength={200} /></div>
          <button className="button">Create organisation</button>
        </form>
      </section>
    </div>
  );
}
