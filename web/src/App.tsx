import { useEffect, useRef, type ReactNode } from 'react';
import { Link, useRouter } from './router';
import { Icon } from './icons';
import { useSessionState, useSession } from './session';
import { del, post, type Session } from './api';
import { Loading, useToast, errorMessage } from './ui';
import { SignIn, Setup, AcceptInvite } from './pages/Auth';
import { Overview } from './pages/Overview';
import { ApiKeys } from './pages/ApiKeys';
import { Providers } from './pages/Providers';
import { Models } from './pages/Models';
import { Usage } from './pages/Usage';
import { Members } from './pages/Members';
import { Settings } from './pages/Settings';
import { AuditLog } from './pages/AuditLog';

const NAV: { to: string; label: string; icon: string; page: () => ReactNode }[] = [
  { to: '/', label: 'Overview', icon: 'overview', page: () => <Overview /> },
  { to: '/api-keys', label: 'API Keys', icon: 'keys', page: () => <ApiKeys /> },
  { to: '/providers', label: 'AI Providers', icon: 'providers', page: () => <Providers /> },
  { to: '/models', label: 'Models', icon: 'models', page: () => <Models /> },
  { to: '/usage', label: 'Usage', icon: 'usage', page: () => <Usage /> },
  { to: '/members', label: 'Members', icon: 'members', page: () => <Members /> },
  { to: '/settings', label: 'Settings', icon: 'settings', page: () => <Settings /> },
  { to: '/audit-log', label: 'Audit log', icon: 'audit', page: () => <AuditLog /> },
];

export function App() {
  const { state } = useSessionState();
  const { path, navigate } = useRouter();

  useEffect(() => {
    if (!state) return;
    if (path === '/invite') return;
    if (!state.signed_in) {
      const want = state.setup_required ? '/setup' : '/sign-in';
      if (path !== want) navigate(want);
    } else if (path === '/sign-in' || path === '/setup') {
      navigate('/');
    }
  }, [state, path, navigate]);

  if (!state) return <div className="center-screen"><Loading /></div>;
  if (path === '/invite') return <AcceptInvite />;
  if (!state.signed_in) return state.setup_required ? <Setup /> : <SignIn />;
  return <Shell />;
}

function Shell() {
  const { path } = useRouter();
  const current = NAV.find((n) => n.to === path);
  const main = useRef<HTMLElement>(null);
  useEffect(() => {
    document.title = `${current?.label ?? 'Not found'} · Backbone`;
    // Move focus to the new page's heading for keyboard and screen-reader users.
    main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [current]);
  return (
    <div className="shell">
      <a className="skip-link" href="#main">Skip to content</a>
      <Sidebar />
      <main id="main" ref={main} className="main" tabIndex={-1}>
        {current ? current.page() : <div className="page"><h1 tabIndex={-1}>Page not found</h1><p><Link to="/">Go to Overview</Link></p></div>}
      </main>
    </div>
  );
}

function Sidebar() {
  const session = useSession();
  const { set } = useSessionState();
  const { path, navigate } = useRouter();
  const toast = useToast();

  const switchOrg = async (id: string) => {
    try {
      const s = await post<Session>('/session/organization', { organization_id: id });
      set(s);
      toast(`Switched to ${s.organization?.name ?? 'organisation'}`);
      navigate('/');
    } catch (e) { toast(errorMessage(e), 'error'); }
  };

  const signOut = async () => {
    try { await del('/session'); } catch { /* the session may already be gone */ }
    set({ signed_in: false, setup_required: false });
    navigate('/sign-in');
  };

  return (
    <aside className="sidebar" aria-label="Sidebar">
      <div className="brand"><span className="brand-mark" aria-hidden="true">B</span> Backbone</div>
      <label className="org-switcher">
        <span className="sr-only">Organisation</span>
        <select value={session.organization?.id ?? ''} onChange={(e) => void switchOrg(e.target.value)} aria-label="Organisation">
          {session.organizations.map((o) => <option key={o.id} value={o.id}>{o.name}</option>)}
        </select>
      </label>
      <nav aria-label="Main">
        <ul className="nav">
          {NAV.map((n) => (
            <li key={n.to}>
              <Link to={n.to} className={`nav-link${path === n.to ? ' active' : ''}`} aria-current={path === n.to ? 'page' : undefined}>
                <Icon name={n.icon} />{n.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <div className="sidebar-footer">
        <div className="user">
          <span className="avatar" aria-hidden="true">{(session.user.name || session.user.email).slice(0, 1).toUpperCase()}</span>
          <span className="user-text"><span className="user-name">{session.user.name}</span><span className="user-role">{session.role}</span></span>
        </div>
        <button type="button" className="button button-ghost" onClick={() => void signOut()}>Sign out</button>
      </div>
    </aside>
  );
}
