/**
 * Dashboard accounts over real HTTP, on every storage backend: first-run setup only once,
 * sign-in sets an httpOnly cookie and never returns the token, CSRF on every cookie-authenticated
 * change, signed-out and forged sessions refused, wrong passwords throttled, password change,
 * and the Bearer path unaffected by cookies.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../support/backends.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { DashboardClient, OWNER, setUp } from '../support/dashboard.js';

const all = await backends();

for (const backend of all) {
  describe(`dashboard sessions: ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    let drop: () => Promise<void>;
    let owner: DashboardClient;

    before(async () => {
      const db = await backend.fresh();
      drop = db.drop;
      t = await startTestApp(db.url, { BACKBONE_LOGIN_FAILURE_LIMIT: '3', BACKBONE_LOGIN_FAILURE_WINDOW: '60' });
    });
    after(async () => {
      await t?.close();
      const logs = t?.logs.join('') ?? '';
      assert.ok(!logs.includes(OWNER.password), 'a password was logged');
      if (owner?.cookie) assert.ok(!logs.includes(owner.cookie.split('=')[1]!), 'a session token was logged');
      await drop?.();
    });

    test('before setup: the session endpoint says setup is required and nothing else is reachable', async () => {
      const c = new DashboardClient(t.url);
      const s = await c.get('/api/v1/session');
      assert.equal(s.status, 200);
      assert.deepEqual(s.json, { object: 'session', signed_in: false, setup_required: true });
      assert.equal((await c.get('/api/v1/keys')).json.error.code, 'missing_api_key');
    });

    test('setup validates its input', async () => {
      const c = new DashboardClient(t.url);
      const res = await c.post('/api/v1/setup', { ...OWNER, password: 'short' });
      assert.equal(res.status, 400);
      assert.equal(res.json.error.param, 'password');
    });

    test('first-run setup creates the owner, signs in with an httpOnly SameSite cookie, and then is closed', async () => {
      owner = await setUp(t);
      const s = await owner.get('/api/v1/session');
      assert.equal(s.json.signed_in, true);
      assert.equal(s.json.role, 'owner');
      assert.equal(s.json.user.email, OWNER.email);
      assert.equal(s.json.organization.name, 'Acme');
      assert.match(s.json.csrf_token, /^[\w-]{20,}$/);
      assert.ok(!s.text.includes(owner.cookie!.split('=')[1]!), 'the session token must not be in a response body');

      const again = await new DashboardClient(t.url).post('/api/v1/setup', { ...OWNER, email: 'intruder@example.com' });
      assert.equal(again.status, 409);
      assert.equal(again.json.error.code, 'conflict');
      assert.equal((await new DashboardClient(t.url).get('/api/v1/session')).json.setup_required, false);
    });

    test('sign-in cookie attributes; the password is stored as a slow hash', async () => {
      const res = await fetch(`${t.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: OWNER.email, password: OWNER.password }) });
      assert.equal(res.status, 200);
      const cookie = res.headers.get('set-cookie') ?? '';
      assert.match(cookie, /^backbone_session=[\w-]{40,}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
      assert.ok(!cookie.includes('Secure'), 'plain http gets no Secure flag');
      const user = await t.app.store.users.byEmail(OWNER.email);
      assert.match(user!.passwordHash!, /^scrypt\$65536\$8\$1\$/);
      assert.ok(!user!.passwordHash!.includes(OWNER.password));
    });

    test('a session authenticates the management API with the role\'s permissions', async () => {
      const keys = await owner.get('/api/v1/keys');
      assert.equal(keys.status, 200);
      const created = await owner.post('/api/v1/keys', { name: 'from the dashboard', permissions: 'all' });
      assert.equal(created.status, 201);
      assert.equal(created.json.created_by.startsWith('user:'), true);
      assert.match(created.json.key, /^sk_live_/);
    });

    test('the gateway never accepts a session cookie (keys only)', async () => {
      const res = await owner.get('/api/v1/models');
      assert.equal(res.status, 401);
      assert.equal(res.json.error.code, 'missing_api_key');
    });

    test('CSRF: a state-changing request without the token, or with a wrong one, is refused with 403 invalid_csrf_token', async () => {
      for (const csrf of [false, 'wrong-token', owner.csrf!.slice(0, -1) + (owner.csrf!.endsWith('A') ? 'B' : 'A')] as const) {
        const res = await owner.post('/api/v1/keys', { name: 'csrf' }, { csrf });
        assert.equal(res.status, 403, String(csrf));
        assert.equal(res.json.error.code, 'invalid_csrf_token');
        assert.equal(res.json.error.type, 'permission_error');
      }
      for (const [method, path] of [['DELETE', '/api/v1/session'], ['POST', '/api/v1/me/password'], ['PATCH', '/api/v1/organization']]) {
        const res = await owner.req(method!, path!, {}, { csrf: false });
        assert.equal(res.status, 403, `${method} ${path}`);
        assert.equal(res.json.error.code, 'invalid_csrf_token');
      }
      // Reads need no token; a Bearer key needs none either.
      assert.equal((await owner.req('GET', '/api/v1/keys', undefined, { csrf: false })).status, 200);
      assert.equal((await t.call('/api/v1/keys', { key: t.adminKey, body: { name: 'bearer' } })).status, 201);
      // Another session's token does not work for this one.
      const other = new DashboardClient(t.url);
      await other.signIn(OWNER.email, OWNER.password);
      assert.notEqual(other.csrf, owner.csrf);
      assert.equal((await owner.post('/api/v1/keys', { name: 'x' }, { csrf: other.csrf! })).json.error.code, 'invalid_csrf_token');
    });

    test('a Bearer key wins over a cookie, and role-only routes refuse keys', async () => {
      const res = await t.call('/api/v1/keys', { key: 'sk_live_nonsense', headers: { cookie: owner.cookie! } });
      assert.equal(res.json.error.code, 'invalid_api_key');
      const members = await t.call('/api/v1/members', { key: t.adminKey });
      assert.equal(members.status, 403);
      assert.equal(members.json.error.code, 'insufficient_permissions');
    });

    test('a forged or unknown session cookie -> 401 invalid_session', async () => {
      const c = new DashboardClient(t.url);
      c.cookie = 'backbone_session=' + 'A'.repeat(43);
      const res = await c.get('/api/v1/keys');
      assert.equal(res.status, 401);
      assert.equal(res.json.error.code, 'invalid_session');
      assert.deepEqual((await c.get('/api/v1/session')).json.signed_in, false);
    });

    test('sign-out ends the session: the same cookie can no longer call the dashboard API', async () => {
      const c = new DashboardClient(t.url);
      assert.equal((await c.signIn(OWNER.email, OWNER.password)).status, 200);
      const cookie = c.cookie!;
      assert.equal((await c.get('/api/v1/keys')).status, 200);
      const out = await c.req('DELETE', '/api/v1/session');
      assert.equal(out.status, 200);
      assert.equal(c.cookie, undefined, 'the cookie is cleared');
      c.cookie = cookie; // replay the old cookie
      const after = await c.get('/api/v1/keys');
      assert.equal(after.status, 401);
      assert.equal(after.json.error.code, 'invalid_session');
      assert.equal((await c.post('/api/v1/keys', { name: 'x' })).status, 401);
    });

    test('wrong passwords: 401 invalid_credentials (same answer for an unknown email), then 429 with Retry-After', async () => {
      const c = new DashboardClient(t.url);
      const unknown = await c.signIn('nobody@example.com', 'whatever-password');
      assert.equal(unknown.status, 401);
      assert.deepEqual(unknown.json, { error: { message: 'Incorrect email or password', type: 'authentication_error', code: 'invalid_credentials' } });
      for (let i = 0; i < 3; i++) {
        const res = await c.signIn(OWNER.email, `wrong password ${i}`);
        assert.equal(res.status, 401);
        assert.equal(res.json.error.code, 'invalid_credentials');
      }
      const blocked = await c.signIn(OWNER.email, OWNER.password);
      assert.equal(blocked.status, 429, 'even the right password waits out the window');
      assert.equal(blocked.json.error.code, 'rate_limit_exceeded');
      assert.match(blocked.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
      assert.equal(c.cookie, undefined);
      // Per email and address: another account is not locked out by it.
      assert.equal((await c.signIn('nobody2@example.com', 'x')).status, 401);
    });

    test('password change: needs the current password; other sessions end; the new password signs in', async () => {
      const a = new DashboardClient(t.url);
      const b = new DashboardClient(t.url);
      // The owner's email is throttled from this address by the previous test: use a fresh user.
      const inv = await owner.post('/api/v1/invites', { role: 'admin' });
      assert.equal((await a.post('/api/v1/invites/accept', { token: inv.json.token, email: 'pat@example.com', name: 'Pat', password: 'first password 1' })).status, 201);
      assert.equal((await b.signIn('pat@example.com', 'first password 1')).status, 200);
      const wrong = await a.post('/api/v1/me/password', { current_password: 'not it at all', new_password: 'second password 2' });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.json.error.code, 'invalid_credentials');
      const ok = await a.post('/api/v1/me/password', { current_password: 'first password 1', new_password: 'second password 2' });
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await a.get('/api/v1/keys')).status, 200, 'this session stays');
      assert.equal((await b.get('/api/v1/keys')).json.error.code, 'invalid_session', 'the other session ended');
      assert.equal((await new DashboardClient(t.url).signIn('pat@example.com', 'first password 1')).status, 401);
      assert.equal((await new DashboardClient(t.url).signIn('pat@example.com', 'second password 2')).status, 200);
    });
  });

  describe(`first-run setup races: ${backend.name}`, { skip: backend.skip }, () => {
    test('concurrent setups: exactly one creates the owner, the others get 409', async () => {
      const db = await backend.fresh();
      const app = await startTestApp(db.url);
      try {
        const results = await Promise.all([0, 1, 2, 3].map((i) =>
          new DashboardClient(app.url).post('/api/v1/setup', { ...OWNER, email: `racer${i}@example.com` })));
        assert.deepEqual(results.map((r) => r.status).sort(), [201, 409, 409, 409]);
        const org = await app.app.store.orgs.ensureDefault();
        assert.deepEqual((await app.app.store.users.members(org.id)).map((m) => m.role), ['owner']);
      } finally {
        await app.close();
        await db.drop();
      }
    });

    test('a password-less user made by the CLI becomes the owner at setup', async () => {
      const db = await backend.fresh();
      const app = await startTestApp(db.url);
      try {
        const org = await app.app.store.orgs.ensureDefault();
        await app.app.store.users.create({ email: OWNER.email, name: 'From CLI', orgId: org.id, role: 'member' });
        const c = new DashboardClient(app.url);
        assert.equal((await c.post('/api/v1/setup', OWNER)).status, 201);
        assert.equal((await c.get('/api/v1/session')).json.role, 'owner');
      } finally {
        await app.close();
        await db.drop();
      }
    });
  });
}
