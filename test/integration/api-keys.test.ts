/**
 * The API-key lifecycle over real HTTP, on every storage backend: the documented error table,
 * show-once, hash-at-rest, revoke/rotate/expiry, permissions, IP allow-lists, organisation
 * isolation, bad input, and that no response or log line ever contains a presented key.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { sql } from 'kysely';
import { backends } from '../support/backends.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { generateKey } from '../../src/keys/format.js';

const all = await backends();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every presented secret, to check that none ever shows up in a response or a log. */
const presented = new Set<string>();

for (const backend of all) {
  describe(`API keys over HTTP: ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    let drop: () => Promise<void>;

    const call: TestApp['call'] = async (path, init = {}) => {
      if (init.key) presented.add(init.key);
      const res = await t.call(path, init);
      for (const k of presented) {
        if (init.key === k && res.status === 201) continue; // creation responses hold the *new* key, not the presented one
        assert.ok(!res.text.includes(k), `response to ${path} echoed a presented key`);
      }
      return res;
    };
    const expectError = (res: { status: number; json: any }, status: number, type: string, code: string) => {
      assert.equal(res.status, status, JSON.stringify(res.json));
      assert.equal(res.json?.error?.type, type);
      assert.equal(res.json?.error?.code, code);
      assert.equal(typeof res.json.error.message, 'string');
    };

    before(async () => {
      const db = await backend.fresh();
      drop = db.drop;
      t = await startTestApp(db.url, { BACKBONE_AUTH_FAILURE_LIMIT: '100000', BACKBONE_LAST_USED_FLUSH_SECONDS: '0.2' });
      presented.add(t.adminKey);
    });
    after(async () => {
      await t?.close();
      const logs = t?.logs.join('') ?? '';
      for (const k of presented) assert.ok(!logs.includes(k), 'a presented key was written to the logs');
      assert.ok(!logs.toLowerCase().includes('bearer sk_'), 'an Authorization header was logged');
      await drop?.();
    });

    describe('the error table', () => {
      test('no key -> 401 missing_api_key, with a WWW-Authenticate challenge', async () => {
        const res = await call('/api/v1/keys');
        expectError(res, 401, 'authentication_error', 'missing_api_key');
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="backbone"/);
      });

      test('unknown, malformed or bad-checksum key -> 401 invalid_api_key with the documented body', async () => {
        const good = generateKey('live').key;
        const badChecksum = good.slice(0, -1) + (good.endsWith('a') ? 'b' : 'a');
        for (const key of [good /* well-formed, unknown */, badChecksum, 'sk_live_abc123def456', 'not-a-key', 'sk_live_' + 'x'.repeat(500)]) {
          const res = await call('/api/v1/keys', { key });
          assert.deepEqual(res.json, { error: { message: 'Invalid API key', type: 'authentication_error', code: 'invalid_api_key' } });
          assert.equal(res.status, 401);
          assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
        }
      });

      test('a non-Bearer scheme is an invalid key, not a missing one', async () => {
        const res = await call('/api/v1/keys', { headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } });
        expectError(res, 401, 'authentication_error', 'invalid_api_key');
      });

      test('the scheme is case-insensitive and x-api-key works too', async () => {
        assert.equal((await call('/api/v1/keys', { headers: { authorization: `bearer ${t.adminKey}` } })).status, 200);
        assert.equal((await call('/api/v1/keys', { headers: { 'x-api-key': t.adminKey } })).status, 200);
      });

      test('revoked key -> 401 key_revoked on the very next request', async () => {
        const k = await t.createKey({ permissions: ['keys:read'] });
        presented.add(k.key);
        assert.equal((await call('/api/v1/keys', { key: k.key })).status, 200);
        const revoked = await call(`/api/v1/keys/${k.id}/revoke`, { method: 'POST', key: t.adminKey });
        assert.equal(revoked.status, 200);
        assert.equal(revoked.json.status, 'revoked');
        assert.ok(revoked.json.revoked_at);
        expectError(await call('/api/v1/keys', { key: k.key }), 401, 'authentication_error', 'key_revoked');
      });

      test('expired key -> 401 key_expired', async () => {
        const created = await call('/api/v1/keys', { key: t.adminKey, body: { name: 'short-lived', permissions: ['keys:read'], expires_in: 1 } });
        assert.equal(created.status, 201);
        presented.add(created.json.key);
        assert.equal((await call('/api/v1/keys', { key: created.json.key })).status, 200);
        await sleep(1100);
        expectError(await call('/api/v1/keys', { key: created.json.key }), 401, 'authentication_error', 'key_expired');
        assert.equal((await call(`/api/v1/keys/${created.json.id}`, { key: t.adminKey })).json.status, 'expired');
      });

      test('key lacking the permission -> 403 insufficient_permissions naming it', async () => {
        const k = await t.createKey({ permissions: ['keys:read'] });
        presented.add(k.key);
        const res = await call('/api/v1/keys', { key: k.key, body: { name: 'x' } });
        expectError(res, 403, 'permission_error', 'insufficient_permissions');
        assert.match(res.json.error.message, /'keys:write'/);
        const none = await t.createKey({ permissions: ['chat'] });
        presented.add(none.key);
        const res2 = await call('/api/v1/keys', { key: none.key });
        expectError(res2, 403, 'permission_error', 'insufficient_permissions');
        assert.match(res2.json.error.message, /'keys:read'/);
      });

      test('IP not in the allow-list -> 403 ip_not_allowed; an allowed address passes', async () => {
        const denied = await t.createKey({ permissions: ['keys:read'], allowedIps: ['10.0.0.0/8', '2001:db8::/32'] });
        const allowed = await t.createKey({ permissions: ['keys:read'], allowedIps: ['127.0.0.1/32', '::1'] });
        presented.add(denied.key).add(allowed.key);
        expectError(await call('/api/v1/keys', { key: denied.key }), 403, 'permission_error', 'ip_not_allowed');
        assert.equal((await call('/api/v1/keys', { key: allowed.key })).status, 200);
      });
    });

    describe('show once, hash at rest', () => {
      test('POST /keys answers 201 with the full key once; list and get never return it', async () => {
        const res = await call('/api/v1/keys', { key: t.adminKey, body: { name: 'billing-service', environment: 'test', permissions: 'read_only' } });
        assert.equal(res.status, 201);
        assert.equal(res.headers.get('cache-control'), 'no-store');
        const { key, id, prefix } = res.json;
        presented.add(key);
        assert.match(key, /^sk_test_[0-9A-Za-z]{38}$/);
        assert.ok(key.startsWith(prefix));
        assert.match(prefix, /^sk_test_[0-9A-Za-z]{6}$/);
        assert.deepEqual(res.json.permissions, ['models:read', 'usage:read', 'keys:read', 'providers:read']);
        for (const f of ['id', 'name', 'prefix', 'environment', 'permissions', 'created_at', 'last_used_at', 'expires_at', 'revoked_at']) assert.ok(f in res.json, f);

        const list = await call('/api/v1/keys', { key: t.adminKey });
        assert.equal(list.json.object, 'list');
        const listed = list.json.data.find((k: any) => k.id === id);
        assert.equal(listed.prefix, prefix);
        assert.ok(!list.text.includes(key) && !list.text.includes(key.slice(14)), 'list holds no secret');
        assert.ok(!('key' in listed) && !('hash' in listed) && !('key_hash' in listed));
        const got = await call(`/api/v1/keys/${id}`, { key: t.adminKey });
        assert.equal(got.json.id, id);
        assert.ok(!got.text.includes(key));
        // the new key works
        assert.equal((await call('/api/v1/keys', { key })).status, 200);
      });

      test('the database never holds a secret: every text column of every table is searched', async () => {
        const res = await call('/api/v1/keys', { key: t.adminKey, body: { name: 'search-me' } });
        const secret: string = res.json.key;
        presented.add(secret);
        await call(`/api/v1/keys/${res.json.id}/rotate`, { method: 'POST', key: t.adminKey, body: { grace: '1h' } }).then((r) => presented.add(r.json.key));
        const db = t.app.store.db.kysely;
        const tables = ['organizations', 'users', 'memberships', 'api_keys', 'api_key_secrets', 'audit_events', 'changes'];
        let rowsSeen = 0;
        for (const table of tables) {
          const rows = (await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(db)).rows;
          for (const row of rows) {
            rowsSeen++;
            const text = JSON.stringify(row);
            for (const k of presented) {
              if (k.length !== 46) continue; // only real keys: garbage candidates were never stored anywhere
              assert.ok(!text.includes(k), `${table} holds a full key`);
              assert.ok(!text.includes(k.slice(14, 40)), `${table} holds the secret part of a key`);
            }
          }
        }
        assert.ok(rowsSeen > 10);
      });
    });

    describe('rotation', () => {
      test('rotate with a grace period: same id, new secret works, old one works until the grace ends', async () => {
        const k = await t.createKey({ permissions: ['keys:read'] });
        presented.add(k.key);
        const r = await call(`/api/v1/keys/${k.id}/rotate`, { method: 'POST', key: t.adminKey, body: { grace: 1 } });
        assert.equal(r.status, 200);
        presented.add(r.json.key);
        assert.equal(r.json.id, k.id);
        assert.notEqual(r.json.key, k.key);
        assert.ok(r.json.previous_key_expires_at);
        assert.equal((await call('/api/v1/keys', { key: r.json.key })).status, 200);
        assert.equal((await call('/api/v1/keys', { key: k.key })).status, 200, 'old secret works during the grace period');
        await sleep(1100);
        const old = await call('/api/v1/keys', { key: k.key });
        expectError(old, 401, 'authentication_error', 'key_revoked');
        assert.match(old.json.error.message, /rotation/);
        assert.equal((await call('/api/v1/keys', { key: r.json.key })).status, 200);
      });

      test('rotate without grace stops the old secret at once', async () => {
        const k = await t.createKey({ permissions: ['keys:read'] });
        presented.add(k.key);
        assert.equal((await call('/api/v1/keys', { key: k.key })).status, 200); // now cached
        const r = await call(`/api/v1/keys/${k.id}/rotate`, { method: 'POST', key: t.adminKey });
        presented.add(r.json.key);
        expectError(await call('/api/v1/keys', { key: k.key }), 401, 'authentication_error', 'key_revoked');
        assert.equal((await call('/api/v1/keys', { key: r.json.key })).status, 200);
      });

      test('a revoked key cannot be rotated', async () => {
        const k = await t.createKey();
        presented.add(k.key);
        await call(`/api/v1/keys/${k.id}/revoke`, { method: 'POST', key: t.adminKey });
        expectError(await call(`/api/v1/keys/${k.id}/rotate`, { method: 'POST', key: t.adminKey }), 400, 'invalid_request_error', 'invalid_request');
      });
    });

    describe('update', () => {
      test('PATCH changes take effect at once (permissions removed -> 403 on the next request)', async () => {
        const k = await t.createKey({ permissions: ['keys:read'] });
        presented.add(k.key);
        assert.equal((await call('/api/v1/keys', { key: k.key })).status, 200);
        const p = await call(`/api/v1/keys/${k.id}`, { method: 'PATCH', key: t.adminKey, body: { name: 'renamed', permissions: ['chat'], allowed_models: ['gpt-4o'] } });
        assert.equal(p.status, 200);
        assert.equal(p.json.name, 'renamed');
        assert.deepEqual(p.json.allowed_models, ['gpt-4o']);
        expectError(await call('/api/v1/keys', { key: k.key }), 403, 'permission_error', 'insufficient_permissions');
      });

      test('a key cannot grant what it does not hold', async () => {
        const writer = await t.createKey({ permissions: ['keys:write', 'keys:read', 'chat'], allowedModels: ['gpt-4o'] });
        presented.add(writer.key);
        const escalate = await call('/api/v1/keys', { key: writer.key, body: { name: 'x', permissions: 'all' } });
        expectError(escalate, 403, 'permission_error', 'insufficient_permissions');
        const wider = await call('/api/v1/keys', { key: writer.key, body: { name: 'x', permissions: ['chat'], allowed_models: ['claude-sonnet-4-5'] } });
        expectError(wider, 403, 'permission_error', 'insufficient_permissions');
        const ok = await call('/api/v1/keys', { key: writer.key, body: { name: 'x', permissions: ['chat'] } });
        assert.equal(ok.status, 201);
        presented.add(ok.json.key);
        assert.deepEqual(ok.json.allowed_models, ['gpt-4o'], 'inherits the creator model allow-list');
      });
    });

    describe('organisation isolation', () => {
      test("a key of organisation B can neither see nor change A's keys (404)", async () => {
        const bAdmin = await t.createKey({ orgSlug: 'org-b', permissions: ['keys:read', 'keys:write'] });
        presented.add(bAdmin.key);
        const aKey = await t.createKey({ permissions: ['keys:read'] });
        presented.add(aKey.key);
        for (const [method, path, body] of [
          ['GET', `/api/v1/keys/${aKey.id}`], ['PATCH', `/api/v1/keys/${aKey.id}`, { name: 'pwned' }],
          ['POST', `/api/v1/keys/${aKey.id}/revoke`], ['POST', `/api/v1/keys/${aKey.id}/rotate`],
        ] as const) {
          expectError(await call(path, { method, key: bAdmin.key, body }), 404, 'invalid_request_error', 'not_found');
        }
        const list = await call('/api/v1/keys', { key: bAdmin.key });
        assert.ok(list.json.data.every((k: any) => k.id !== aKey.id));
        assert.equal((await call('/api/v1/keys', { key: aKey.key })).status, 200, 'A key still works');
        const auditB = await call('/api/v1/audit-events', { key: bAdmin.key });
        assert.ok(auditB.json.data.every((e: any) => e.target_id !== aKey.id));
      });
    });

    describe('audit events', () => {
      test('create, update, rotate and revoke are recorded with actor and changes; never the secret', async () => {
        const c = await call('/api/v1/keys', { key: t.adminKey, body: { name: 'audited' } });
        presented.add(c.json.key);
        await call(`/api/v1/keys/${c.json.id}`, { method: 'PATCH', key: t.adminKey, body: { name: 'audited-2' } });
        await call(`/api/v1/keys/${c.json.id}/rotate`, { method: 'POST', key: t.adminKey, body: { grace: '24h' } }).then((r) => presented.add(r.json.key));
        await call(`/api/v1/keys/${c.json.id}/revoke`, { method: 'POST', key: t.adminKey });
        const res = await call(`/api/v1/audit-events?target_id=${c.json.id}`, { key: t.adminKey });
        assert.equal(res.status, 200);
        assert.deepEqual(res.json.data.map((e: any) => e.action), ['api_key.revoked', 'api_key.rotated', 'api_key.updated', 'api_key.created']);
        const adminId = (await t.app.keys.verify(t.adminKey, '127.0.0.1') as any).key.id;
        assert.ok(res.json.data.every((e: any) => e.actor === `key:${adminId}` && e.ip === '127.0.0.1'));
        const updated = res.json.data.find((e: any) => e.action === 'api_key.updated');
        assert.deepEqual(updated.details.changes.name, { from: 'audited', to: 'audited-2' });
        assert.equal(res.json.data.find((e: any) => e.action === 'api_key.rotated').details.grace_seconds, 86400);
      });
    });

    test('last_used_at is written behind and shows up in the list', async () => {
      const k = await t.createKey({ permissions: ['keys:read'] });
      presented.add(k.key);
      assert.equal((await call(`/api/v1/keys/${k.id}`, { key: t.adminKey })).json.last_used_at, null);
      await call('/api/v1/keys', { key: k.key });
      await sleep(600);
      const got = await call(`/api/v1/keys/${k.id}`, { key: t.adminKey });
      assert.ok(got.json.last_used_at && Date.parse(got.json.last_used_at) > Date.now() - 10_000);
    });

    describe('bad input gets a 4xx envelope, never a 500', () => {
      const cases: [string, { body?: unknown; headers?: Record<string, string>; method?: string; path?: string }, number, string, string?][] = [
        ['malformed JSON', { body: '{"name": ' }, 400, 'invalid_request'],
        ['a JSON array', { body: '[1,2]' }, 400, 'invalid_request'],
        ['a JSON string', { body: '"x"' }, 400, 'invalid_request'],
        ['null', { body: 'null' }, 400, 'invalid_request'],
        ['missing name', { body: {} }, 400, 'invalid_request', 'name'],
        ['name of the wrong type', { body: { name: 5 } }, 400, 'invalid_request', 'name'],
        ['empty name', { body: { name: '   ' } }, 400, 'invalid_request', 'name'],
        ['huge name', { body: { name: 'x'.repeat(10_000) } }, 400, 'invalid_request', 'name'],
        ['control characters in name', { body: { name: 'a\u0000b' } }, 400, 'invalid_request', 'name'],
        ['unknown field', { body: { name: 'x', admin: true } }, 400, 'invalid_request', 'admin'],
        ['unknown permission', { body: { name: 'x', permissions: ['root'] } }, 400, 'invalid_request', 'permissions'],
        ['bad environment', { body: { name: 'x', environment: 'prod' } }, 400, 'invalid_request', 'environment'],
        ['bad CIDR', { body: { name: 'x', allowed_ips: ['10.0.0.0/99'] } }, 400, 'invalid_request', 'allowed_ips.0'],
        ['expiry in the past', { body: { name: 'x', expires_at: '2001-01-01T00:00:00Z' } }, 400, 'invalid_request', 'expires_at'],
        ['unparseable expiry', { body: { name: 'x', expires_in: 'soon' } }, 400, 'invalid_request', 'expires_in'],
        ['body too large', { body: { name: 'x', pad: 'y'.repeat(2 * 1024 * 1024) } }, 413, 'request_too_large'],
        ['form-encoded body', { body: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'invalid_request'],
        ['bad list limit', { method: 'GET', path: '/api/v1/keys?limit=abc' }, 400, 'invalid_request', 'limit'],
        ['huge list limit', { method: 'GET', path: '/api/v1/keys?limit=99999999' }, 400, 'invalid_request', 'limit'],
        ['unknown key id', { method: 'GET', path: '/api/v1/keys/key_doesnotexist' }, 404, 'not_found'],
        ['absurdly long key id', { method: 'GET', path: `/api/v1/keys/${'k'.repeat(5000)}` }, 400, 'invalid_request'],
        ['unknown route', { method: 'GET', path: '/api/v1/nope' }, 404, 'not_found'],
        ['bad rotate grace', { method: 'POST', path: '/api/v1/keys/key_x/rotate', body: { grace: '-5h' } }, 400, 'invalid_request', 'grace'],
      ];
      for (const [name, c, status, code, param] of cases) {
        test(name, async () => {
          const res = await call(c.path ?? '/api/v1/keys', { method: c.method ?? 'POST', key: t.adminKey, body: c.body, headers: c.headers });
          assert.equal(res.status, status, res.text.slice(0, 300));
          assert.equal(res.json?.error?.code, code);
          assert.equal(typeof res.json.error.type, 'string');
          if (param !== undefined) assert.equal(res.json.error.param, param);
        });
      }

      test('unicode and SQL metacharacters in names are stored verbatim', async () => {
        for (const name of ["Robert'); DROP TABLE api_keys;--", 'ключ 🔑 鍵', '"; select * from users; --', 'a\\b%_']) {
          const res = await call('/api/v1/keys', { key: t.adminKey, body: { name } });
          assert.equal(res.status, 201);
          presented.add(res.json.key);
          assert.equal((await call(`/api/v1/keys/${res.json.id}`, { key: t.adminKey })).json.name, name);
        }
        assert.equal((await call('/api/v1/keys', { key: t.adminKey })).status, 200, 'the table is still there');
      });

      test('absurdly long Authorization headers: 401 when under the header limit, 431 envelope over it', async () => {
        const long = await call('/api/v1/keys', { headers: { authorization: `Bearer sk_live_${'a'.repeat(8000)}` } });
        expectError(long, 401, 'authentication_error', 'invalid_api_key');
        const huge = await call('/api/v1/keys', { headers: { authorization: `Bearer ${'a'.repeat(100_000)}` } });
        assert.equal(huge.status, 431);
        assert.equal(huge.json.error.code, 'request_too_large');
      });

      test('a presented key is never echoed, even in a param', async () => {
        const res = await call('/api/v1/keys', { key: t.adminKey, body: { name: 'x', [t.adminKey]: 1 } });
        assert.equal(res.status, 400);
        assert.ok(!res.text.includes(t.adminKey));
      });
    });

    describe('through the official OpenAI SDK', () => {
      test('list, create and errors map to the SDK exception classes', async () => {
        const client = new OpenAI({ apiKey: t.adminKey, baseURL: `${t.url}/api/v1`, maxRetries: 0 });
        const list = await client.get('/keys') as any;
        assert.equal(list.object, 'list');
        const created = await client.post('/keys', { body: { name: 'sdk' } }) as any;
        presented.add(created.key);
        assert.match(created.key, /^sk_live_/);
        const revoked = await client.post(`/keys/${created.id}/revoke`) as any;
        assert.equal(revoked.status, 'revoked');

        const bad = new OpenAI({ apiKey: generateKey('live').key, baseURL: `${t.url}/api/v1`, maxRetries: 0 });
        await assert.rejects(bad.get('/keys'), (e: any) => e instanceof OpenAI.AuthenticationError && e.code === 'invalid_api_key');
        const revokedClient = new OpenAI({ apiKey: created.key, baseURL: `${t.url}/api/v1`, maxRetries: 0 });
        await assert.rejects(revokedClient.get('/keys'), (e: any) => e instanceof OpenAI.AuthenticationError && e.code === 'key_revoked');
        const ro = await t.createKey({ permissions: ['keys:read'] });
        presented.add(ro.key);
        const roClient = new OpenAI({ apiKey: ro.key, baseURL: `${t.url}/api/v1`, maxRetries: 0 });
        await assert.rejects(roClient.post('/keys', { body: { name: 'x' } }), (e: any) => e instanceof OpenAI.PermissionDeniedError && e.code === 'insufficient_permissions');
        await assert.rejects(client.get('/keys/key_missing'), (e: any) => e instanceof OpenAI.NotFoundError);
        await assert.rejects(client.post('/keys', { body: { name: 5 } }), (e: any) => e instanceof OpenAI.BadRequestError && e.param === 'name');
      });
    });
  });
}

describe('brute force', () => {
  test('repeated failures from one address get 429 with Retry-After, even for a valid key afterwards', async () => {
    const backend = all[0]!;
    const db = await backend.fresh();
    const t = await startTestApp(db.url, { BACKBONE_AUTH_FAILURE_LIMIT: '5', BACKBONE_AUTH_FAILURE_WINDOW: '60' });
    try {
      for (let i = 0; i < 5; i++) assert.equal((await t.call('/api/v1/keys', { key: generateKey('live').key })).status, 401);
      const blocked = await t.call('/api/v1/keys', { key: generateKey('live').key });
      assert.equal(blocked.status, 429);
      assert.equal(blocked.json.error.code, 'rate_limit_exceeded');
      assert.equal(blocked.json.error.type, 'rate_limit_error');
      assert.ok(Number(blocked.headers.get('retry-after')) > 0);
      assert.equal((await t.call('/api/v1/keys', { key: t.adminKey })).status, 429);
    } finally {
      await t.close();
      await db.drop();
    }
  });
});
