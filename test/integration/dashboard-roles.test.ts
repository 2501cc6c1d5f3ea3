/**
 * Organisation roles over real HTTP, on every storage backend: members see and change only their
 * own keys and cannot grant more than their role holds nor edit providers; admins manage every
 * key and provider; owners manage members, invites and the plan. Invites are single use and
 * expire; switching organisation changes what a session sees.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../support/backends.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { DashboardClient, invited, setUp } from '../support/dashboard.js';

const all = await backends();

for (const backend of all) {
  describe(`dashboard roles: ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    let drop: () => Promise<void>;
    let owner: DashboardClient, admin: DashboardClient, alice: DashboardClient, bob: DashboardClient;
    let aliceKey: { id: string; key: string };
    let ownerKeyId: string;
    let providerId: string;

    before(async () => {
      const db = await backend.fresh();
      drop = db.drop;
      t = await startTestApp(db.url);
      owner = await setUp(t);
      admin = await invited(t, owner, 'admin', 'adam@example.com');
      alice = await invited(t, owner, 'member', 'alice@example.com');
      bob = await invited(t, owner, 'member', 'bob@example.com');
      const a = await alice.post('/api/v1/keys', { name: 'alice key' });
      assert.equal(a.status, 201, a.text);
      aliceKey = { id: a.json.id, key: a.json.key };
      ownerKeyId = (await owner.post('/api/v1/keys', { name: 'owner key' })).json.id;
      const p = await owner.post('/api/v1/providers', { provider: 'openai', name: 'Team OpenAI', api_key: 'sk-proj-abcdefghijklmnop1234' });
      assert.equal(p.status, 201, p.text);
      providerId = p.json.id;
    });
    after(async () => {
      await t?.close();
      await drop?.();
    });

    test('a member sees only their own keys in the list', async () => {
      const mine = await alice.get('/api/v1/keys');
      assert.deepEqual(mine.json.data.map((k: any) => k.id), [aliceKey.id]);
      assert.deepEqual((await bob.get('/api/v1/keys')).json.data, []);
      const everyone = (await admin.get('/api/v1/keys')).json.data.map((k: any) => k.id);
      assert.ok(everyone.includes(aliceKey.id) && everyone.includes(ownerKeyId));
    });

    test('a member cannot read, edit, rotate or revoke another member\'s key (404), and the key keeps working', async () => {
      for (const [method, path, body] of [
        ['GET', `/api/v1/keys/${aliceKey.id}`, undefined],
        ['PATCH', `/api/v1/keys/${aliceKey.id}`, { name: 'mine now' }],
        ['POST', `/api/v1/keys/${aliceKey.id}/rotate`, {}],
        ['POST', `/api/v1/keys/${aliceKey.id}/revoke`, {}],
        ['POST', `/api/v1/keys/${ownerKeyId}/revoke`, {}],
      ] as const) {
        const res = await bob.req(method, path, body);
        assert.equal(res.status, 404, `${method} ${path}: ${res.text}`);
        assert.equal(res.json.error.code, 'not_found');
      }
      assert.equal((await t.call('/api/v1/keys', { key: aliceKey.key })).status, 403, 'still a valid key (403: it lacks keys:read)');
      assert.equal((await alice.get(`/api/v1/keys/${aliceKey.id}`)).json.status, 'active');
    });

    test('a member can manage their own key', async () => {
      const k = await bob.post('/api/v1/keys', { name: 'bob temp' });
      assert.equal((await bob.req('PATCH', `/api/v1/keys/${k.json.id}`, { name: 'bob renamed' })).json.name, 'bob renamed');
      assert.equal((await bob.post(`/api/v1/keys/${k.json.id}/revoke`)).json.status, 'revoked');
    });

    test('a member cannot create a key with permissions their role lacks', async () => {
      const res = await alice.post('/api/v1/keys', { name: 'sneaky', permissions: ['providers:write'] });
      assert.equal(res.status, 403);
      assert.equal(res.json.error.code, 'insufficient_permissions');
      assert.equal(res.json.error.param, 'permissions');
      assert.equal((await alice.post('/api/v1/keys', { name: 'all', permissions: 'all' })).status, 403);
      assert.equal((await alice.post('/api/v1/keys', { name: 'read only', permissions: 'read_only' })).status, 201);
    });

    test('admins manage everyone\'s keys', async () => {
      const k = await bob.post('/api/v1/keys', { name: 'bob for admin' });
      assert.equal((await admin.get(`/api/v1/keys/${k.json.id}`)).status, 200);
      assert.equal((await admin.post(`/api/v1/keys/${k.json.id}/revoke`)).json.status, 'revoked');
    });

    test('a member can list providers but not add, edit, test or remove them', async () => {
      const list = await alice.get('/api/v1/providers');
      assert.equal(list.status, 200);
      assert.equal(list.json.data[0].api_key_hint, '...1234');
      for (const [method, path, body] of [
        ['POST', '/api/v1/providers', { provider: 'anthropic', name: 'x', api_key: 'sk-ant-xxxxxxxxxxxxxxxx' }],
        ['PATCH', `/api/v1/providers/${providerId}`, { name: 'renamed' }],
        ['POST', `/api/v1/providers/${providerId}/test`, {}],
        ['DELETE', `/api/v1/providers/${providerId}`, undefined],
      ] as const) {
        const res = await alice.req(method, path, body);
        assert.equal(res.status, 403, `${method} ${path}`);
        assert.equal(res.json.error.code, 'insufficient_permissions');
      }
      assert.equal((await admin.req('PATCH', `/api/v1/providers/${providerId}`, { name: 'Renamed by admin' })).status, 200);
    });

    test('the session tells the web app what the role may do', async () => {
      const s = await alice.get('/api/v1/session');
      assert.equal(s.json.role, 'member');
      assert.ok(s.json.permissions.includes('keys:write'));
      assert.ok(!s.json.permissions.includes('providers:write'));
      assert.ok((await owner.get('/api/v1/session')).json.permissions.includes('providers:write'));
    });

    test('only owners manage members, invites and the plan', async () => {
      const members = await alice.get('/api/v1/members');
      assert.equal(members.status, 200);
      assert.equal(members.json.data.length, 4);
      const aliceId = members.json.data.find((m: any) => m.email === 'alice@example.com').id;
      for (const c of [alice, admin]) {
        assert.equal((await c.req('PATCH', `/api/v1/members/${aliceId}`, { role: 'admin' })).status, 403);
        assert.equal((await c.post('/api/v1/invites', { role: 'member' })).status, 403);
        assert.equal((await c.req('PATCH', '/api/v1/organization', { plan: 'scale' })).status, 403);
      }
      assert.equal((await owner.req('PATCH', `/api/v1/members/${aliceId}`, { role: 'admin' })).json.role, 'admin');
      assert.equal((await alice.get('/api/v1/session')).json.role, 'admin', 'the new role applies to the live session');
      assert.equal((await owner.req('PATCH', `/api/v1/members/${aliceId}`, { role: 'member' })).status, 200);
      assert.equal((await owner.req('PATCH', '/api/v1/organization', { plan: 'free' })).json.plan, 'free');
      assert.equal((await owner.get('/api/v1/organization')).json.byok_available, false);
      assert.equal((await owner.req('PATCH', '/api/v1/organization', { plan: 'nope' })).status, 400);
      assert.equal((await owner.req('PATCH', '/api/v1/organization', { plan: 'unlimited' })).status, 200);
    });

    test('the last owner cannot be demoted or removed', async () => {
      const ownerId = (await owner.get('/api/v1/session')).json.user.id;
      const res = await owner.req('PATCH', `/api/v1/members/${ownerId}`, { role: 'member' });
      assert.equal(res.status, 400);
      assert.equal((await owner.req('DELETE', `/api/v1/members/${ownerId}`)).status, 400);
    });

    test('removing a member ends their sessions in that organisation', async () => {
      const carol = await invited(t, owner, 'member', 'carol@example.com');
      const carolId = (await carol.get('/api/v1/session')).json.user.id;
      assert.equal((await owner.req('DELETE', `/api/v1/members/${carolId}`)).status, 200);
      assert.equal((await carol.get('/api/v1/keys')).json.error.code, 'invalid_session');
    });

    test('invites: single use, bound to their email when given, and deletable', async () => {
      const inv = await owner.post('/api/v1/invites', { role: 'member', email: 'dave@example.com' });
      assert.equal(inv.status, 201);
      assert.equal((await owner.get('/api/v1/invites')).json.data.some((i: any) => i.id === inv.json.id), true);
      assert.ok(!(await owner.get('/api/v1/invites')).text.includes(inv.json.token), 'the list never holds a token');
      const preview = await new DashboardClient(t.url).post('/api/v1/invites/preview', { token: inv.json.token });
      assert.equal(preview.json.organization.name, 'Acme');
      const wrongEmail = await new DashboardClient(t.url).post('/api/v1/invites/accept', { token: inv.json.token, email: 'eve@example.com', name: 'Eve', password: 'a good password' });
      assert.equal(wrongEmail.status, 400);
      const dave = new DashboardClient(t.url);
      assert.equal((await dave.post('/api/v1/invites/accept', { token: inv.json.token, email: 'dave@example.com', name: 'Dave', password: 'a good password' })).status, 201);
      const reuse = await new DashboardClient(t.url).post('/api/v1/invites/accept', { token: inv.json.token, email: 'dave2@example.com', name: 'D', password: 'a good password' });
      assert.equal(reuse.status, 404);
      assert.equal(reuse.json.error.code, 'not_found');
      assert.equal((await new DashboardClient(t.url).post('/api/v1/invites/accept', { token: 'made-up-token', email: 'x@example.com', name: 'x', password: 'a good password' })).status, 404);

      const gone = await owner.post('/api/v1/invites', { role: 'admin' });
      assert.equal((await owner.req('DELETE', `/api/v1/invites/${gone.json.id}`)).status, 200);
      assert.equal((await new DashboardClient(t.url).post('/api/v1/invites/preview', { token: gone.json.token })).status, 404);
    });

    test('an expired invite is refused', async () => {
      const inv = await owner.post('/api/v1/invites', { role: 'member' });
      await t.app.store.db.kysely.updateTable('invites').set({ expires_at: Date.now() - 1 }).where('id', '=', inv.json.id).execute();
      const res = await new DashboardClient(t.url).post('/api/v1/invites/accept', { token: inv.json.token, email: 'late@example.com', name: 'Late', password: 'a good password' });
      assert.equal(res.status, 404);
    });

    test('a signed-in user accepts an invite to a second organisation and switches between them', async () => {
      const other = await owner.post('/api/v1/organizations', { name: 'Side Project' });
      assert.equal(other.status, 201);
      const switched = await owner.post('/api/v1/session/organization', { organization_id: other.json.id });
      assert.equal(switched.json.organization.name, 'Side Project');
      assert.deepEqual((await owner.get('/api/v1/keys')).json.data, [], 'a new organisation has no keys');
      const inv = await owner.post('/api/v1/invites', { role: 'member' });
      const joined = await alice.post('/api/v1/invites/accept', { token: inv.json.token });
      assert.equal(joined.status, 200, joined.text);
      assert.equal(joined.json.organization.name, 'Side Project');
      assert.equal(joined.json.organizations.length, 2);
      // Switching to an organisation the user is not in is 404.
      const bobSwitch = await bob.post('/api/v1/session/organization', { organization_id: other.json.id });
      assert.equal(bobSwitch.status, 404);
      const back = await alice.post('/api/v1/session/organization', { organization_id: joined.json.organizations[0].id });
      assert.equal(back.json.organization.name, 'Acme');
      assert.deepEqual((await alice.get('/api/v1/keys')).json.data.map((k: any) => k.id).includes(aliceKey.id), true);
      await owner.post('/api/v1/session/organization', { organization_id: joined.json.organizations[0].id });
    });

    test('members see only their own actions in the audit log; owners see everything', async () => {
      const mine = await alice.get('/api/v1/audit-events');
      assert.ok(mine.json.data.length > 0);
      const aliceActor = `user:${(await alice.get('/api/v1/session')).json.user.id}`;
      assert.ok(mine.json.data.every((e: any) => e.actor === aliceActor));
      const all = await owner.get('/api/v1/audit-events');
      assert.ok(all.json.data.some((e: any) => e.actor !== aliceActor && e.action === 'api_key.created'));
    });

    test('pricing lists what the organisation can call', async () => {
      const res = await alice.get('/api/v1/pricing');
      assert.equal(res.status, 200);
      assert.equal(res.json.object, 'list');
    });
  });
}
