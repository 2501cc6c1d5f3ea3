/** A dashboard client over real HTTP: keeps the session cookie and sends the CSRF token, like the web app. */
import type { TestApp } from './app.js';

export interface Res { status: number; headers: Headers; text: string; json: any }

export class DashboardClient {
  cookie: string | undefined;
  csrf: string | undefined;

  constructor(private readonly base: string) {}

  /** `csrf: false` leaves the x-csrf-token header out; a string sends that value instead. */
  async req(method: string, path: string, body?: unknown, opts: { csrf?: boolean | string; headers?: Record<string, string> } = {}): Promise<Res> {
    const headers: Record<string, string> = { ...opts.headers };
    if (this.cookie) headers.cookie = this.cookie;
    if (opts.csrf !== false && method !== 'GET') {
      const token = typeof opts.csrf === 'string' ? opts.csrf : this.csrf;
      if (token) headers['x-csrf-token'] = token;
    }
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) {
      const m = /^backbone_session=([^;]*)/.exec(setCookie);
      if (m) this.cookie = m[1] ? `backbone_session=${m[1]}` : undefined;
    }
    const text = await res.text();
    let json: any;
    try { json = JSON.parse(text); } catch { json = undefined; }
    if (json && typeof json.csrf_token === 'string') this.csrf = json.csrf_token;
    return { status: res.status, headers: res.headers, text, json };
  }

  get = (path: string) => this.req('GET', path);
  post = (path: string, body?: unknown, opts?: { csrf?: boolean | string }) => this.req('POST', path, body ?? {}, opts);

  async signIn(email: string, password: string): Promise<Res> {
    return this.post('/api/v1/session', { email, password });
  }
}

export const OWNER = { email: 'owner@example.com', name: 'Olivia Owner', password: 'correct horse battery', organization_name: 'Acme' };

/** First-run setup through the API; returns the owner's signed-in client. */
export async function setUp(t: TestApp): Promise<DashboardClient> {
  const owner = new DashboardClient(t.url);
  const res = await owner.post('/api/v1/setup', OWNER);
  if (res.status !== 201) throw new Error(`setup failed: ${res.status} ${res.text}`);
  return owner;
}

/** A user who joined through an invite with `role`; returns their signed-in client. */
export async function invited(t: TestApp, owner: DashboardClient, role: 'owner' | 'admin' | 'member', email: string): Promise<DashboardClient> {
  const inv = await owner.post('/api/v1/invites', { role });
  if (inv.status !== 201) throw new Error(`invite failed: ${inv.status} ${inv.text}`);
  const c = new DashboardClient(t.url);
  const res = await c.post('/api/v1/invites/accept', { token: inv.json.token, email, name: email.split('@')[0], password: 'another good password' });
  if (res.status !== 201) throw new Error(`accept failed: ${res.status} ${res.text}`);
  return c;
}
