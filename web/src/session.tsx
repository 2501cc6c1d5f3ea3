/** The signed-in state: who, which organisation, which role, and the CSRF token for changes. */
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { get, setCsrfToken, setSignedOutHandler, type Session, type SessionState } from './api';

interface SessionCtx {
  state: SessionState | undefined;
  /** Replace the state (after sign-in, setup, switching organisation). */
  set: (s: SessionState) => void;
  refresh: () => Promise<void>;
}

const Ctx = createContext<SessionCtx>({ state: undefined, set: () => {}, refresh: async () => {} });

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState | undefined>(undefined);
  const set = useCallback((s: SessionState) => {
    if (s.signed_in) setCsrfToken(s.csrf_token);
    else setCsrfToken('');
    setState(s);
  }, []);
  const refresh = useCallback(async () => {
    try { set(await get<SessionState>('/session')); } catch { set({ signed_in: false, setup_required: false }); }
  }, [set]);
  useEffect(() => {
    setSignedOutHandler(() => set({ signed_in: false, setup_required: false }));
    void refresh();
  }, [refresh, set]);
  return <Ctx.Provider value={{ state, set, refresh }}>{children}</Ctx.Provider>;
}

export const useSessionState = () => useContext(Ctx);

/** The session on pages behind sign-in (always signed in there). */
export function useSession(): Session & { can: (permission: string) => boolean; isAtLeast: (role: 'admin' | 'owner') => boolean } {
  const { state } = useContext(Ctx);
  const s = state as Session;
  return {
    ...s,
    can: (p) => s.permissions.includes(p),
    isAtLeast: (role) => (role === 'admin' ? s.role === 'admin' || s.role === 'owner' : s.role === 'owner'),
  };
}
