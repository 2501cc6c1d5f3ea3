/**
 * BYOK provider accounts over real HTTP, on every storage backend: CRUD, per-provider validation,
 * one account per provider, organisation isolation, permissions, audit, and that no secret ever
 * shows up in a response, in any row of any table, or in the logs.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { sql } from 'kysely';
import { backends } from '../support/backends.js';
import { startTestApp, type TestApp } from '../support/app.js';

const all = await backends();

/** Every provider secret handed to the API (API keys, key files, private keys). */
const secrets = new Set<string>();
const secret = (label: string) => { const s = `${label}-${randomBytes(18).toString('base64url')}`; secrets.add(s); return s; };

function serviceAccountJson(email = 'byok@my-project.iam.gserviceaccount.com', project: string | null = 'my-project'): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  // the body of the PEM is the secret part
  secrets.add(pem.split('\n').slice(1, -2).join('\n'));
  const json = JSON.stringify({ type: 'service_account', project_id: project ?? undefined, private_key_id: 'abc', private_key: pem, client_email: email });
  secrets.add(json);
  return json;
}

const FIELDS = ['object', 'id', 'provider', 'name', 'base_url', 'api_version', 'project_id', 'location', 'api_key_hint',
  'has_service_account', 'service_account_email', 'created_at', 'updated_at', 'created_by'];

for (const backend of all) {
  describe(`provider accounts over HTTP: ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    let drop: () => Promise<void>;

    /** Every response is checked: no secret, no ciphertext. */
    const call: TestApp['call'] = async (path, init = {}) => {
      const res = await t.call(path, init);
      for (const s of secrets) assert.ok(!res.text.includes(s), `response to ${init.method ?? 'GET'} ${path} holds a provider secret`);
      assert.ok(!/"v1\.[\w-]+\.[\w-]+\.[\w-]+"/.test(res.text), 'response holds a ciphertext');
      assert.ok(!res.text.includes('secret_ciphertext'));
      return res;
    };
    const post = (body: unknown, key = t.adminKey) => call('/api/v1/providers', { key, body });
    const expectError = (res: { status: number; json: any; text: string }, status: number, code: string, param?: string) => {
      assert.equal(res.status, status, res.text);
      assert.equal(res.json.error.code, code);
      assert.equal(typeof res.json.error.message, 'string');
      if (param !== undefined) assert.equal(res.json.error.param, param);
    };

    before(async () => {
      const db = await backend.fresh();
      drop = db.drop;
      t = await startTestApp(db.url, { BACKBONE_AUTH_FAILURE_LIMIT: '100000' });
    });
    after(async () => {
      await t?.close();
      const logs = t?.logs.join('') ?? '';
      for (const s of secrets) assert.ok(!logs.includes(s), 'a provider secret was written to the logs');
      await drop?.();
    });

    test('create, list, get, patch and delete an OpenAI account', async () => {
      const apiKey = secret('sk-proj');
      const created = await post({ provider: 'openai', api_key: apiKey, base_url: 'https://api.openai.com/v1/' });
      assert.equal(created.status, 201, created.text);
      const a = created.json;
      assert.deepEqual(Object.keys(a).sort(), [...FIELDS].sort());
      assert.match(a.id, /^prv_[0-9A-Za-z]{20}$/);
      assert.equal(a.object, 'provider_account');
      assert.equal(a.provider, 'openai');
      assert.equal(a.name, 'OpenAI', 'a default name');
      assert.equal(a.base_url, 'https://api.openai.com/v1', 'trailing slash dropped');
      assert.equal(a.api_key_hint, `...${apiKey.slice(-4)}`);
      assert.equal(a.has_service_account, false);
      assert.match(a.created_by, /^key:key_/);
      assert.ok(Date.parse(a.created_at) > Date.now() - 60_000);

      const list = await call('/api/v1/providers', { key: t.adminKey });
      assert.equal(list.status, 200);
      assert.equal(list.json.object, 'list');
      assert.deepEqual(list.json.data.find((x: any) => x.id === a.id), a);
      assert.deepEqual((await call(`/api/v1/providers/${a.id}`, { key: t.adminKey })).json, a);

      const renamed = await call(`/api/v1/providers/${a.id}`, { method: 'PATCH', key: t.adminKey, body: { name: 'Team OpenAI', base_url: null } });
      assert.equal(renamed.status, 200, renamed.text);
      assert.equal(renamed.json.name, 'Team OpenAI');
      assert.equal(renamed.json.base_url, null);
      assert.equal(renamed.json.api_key_hint, a.api_key_hint, 'the key is kept when not given');
      assert.ok(renamed.json.updated_at >= a.updated_at);
      const orgId = (await t.app.store.orgs.ensureDefault()).id;
      assert.equal((await t.app.providerAccounts.resolve(orgId, 'openai'))?.apiKey, apiKey);

      const newKey = secret('sk-proj');
      const rekeyed = await call(`/api/v1/providers/${a.id}`, { method: 'PATCH', key: t.adminKey, body: { api_key: newKey } });
      assert.equal(rekeyed.json.api_key_hint, `...${newKey.slice(-4)}`);
      assert.equal(rekeyed.json.name, 'Team OpenAI');

      const deleted = await call(`/api/v1/providers/${a.id}`, { method: 'DELETE', key: t.adminKey });
      assert.equal(deleted.status, 200);
      assert.deepEqual(deleted.json, { id: a.id, object: 'provider_account', deleted: true });
      expectError(await call(`/api/v1/providers/${a.id}`, { key: t.adminKey }), 404, 'not_found');
      expectError(await call(`/api/v1/providers/${a.id}`, { method: 'DELETE', key: t.adminKey }), 404, 'not_found');
      assert.ok((await call('/api/v1/providers', { key: t.adminKey })).json.data.every((x: any) => x.id !== a.id));
      assert.equal(await t.app.providerAccounts.resolve(orgId, 'openai'), undefined, 'gone from the gateway at once');
    });

    test('every provider type with its own fields', async () => {
      const org = 'every-type';
      const k = await t.createKey({ orgSlug: org, permissions: ['providers:read', 'providers:write'] });
      const azure = await post({ provider: 'azure-openai', name: 'Azure EU', api_key: secret('az'), base_url: 'https://my-res.openai.azure.com', api_version: '2024-10-21' }, k.key);
      assert.equal(azure.status, 201, azure.text);
      assert.equal(azure.json.api_version, '2024-10-21');
      const anthropic = await post({ provider: 'anthropic', api_key: secret('sk-ant') }, k.key);
      assert.equal(anthropic.status, 201, anthropic.text);
      assert.equal(anthropic.json.name, 'Anthropic');
      const ollama = await post({ provider: 'ollama', base_url: 'http://10.0.0.5:11434' }, k.key);
      assert.equal(ollama.status, 201, ollama.text);
      assert.equal(ollama.json.api_key_hint, null, 'no key: no hint');
      const sa = serviceAccountJson();
      const vertex = await post({ provider: 'vertex-ai', service_account_json: JSON.parse(sa), location: 'europe-west4' }, k.key);
      assert.equal(vertex.status, 201, vertex.text);
      assert.equal(vertex.json.has_service_account, true);
      assert.equal(vertex.json.service_account_email, 'byok@my-project.iam.gserviceaccount.com');
      assert.equal(vertex.json.api_key_hint, null);
      assert.equal(vertex.json.location, 'europe-west4');
      const orgId = (await t.app.store.orgs.bySlug(org))!.id;
      assert.deepEqual((await t.app.providerAccounts.providers(orgId)).sort(), ['anthropic', 'azure-openai', 'ollama', 'vertex-ai']);
      const resolved = await t.app.providerAccounts.resolve(orgId, 'vertex-ai');
      assert.equal(JSON.parse(resolved!.serviceAccountJson!).client_email, 'byok@my-project.iam.gserviceaccount.com');

      // Switching vertex-ai to a Gemini API key replaces the service account (one or the other).
      const switched = await call(`/api/v1/providers/${vertex.json.id}`, { method: 'PATCH', key: k.key, body: { api_key: secret('AIza'), location: null } });
      assert.equal(switched.status, 200, switched.text);
      assert.equal(switched.json.has_service_account, false);
      assert.match(switched.json.api_key_hint, /^\.\.\..{4}$/);
      assert.equal((await t.app.providerAccounts.resolve(orgId, 'vertex-ai'))?.serviceAccountJson, undefined);
      // A short key is not given away by its hint.
      const short = await call(`/api/v1/providers/${ollama.json.id}`, { method: 'PATCH', key: k.key, body: { api_key: 'abc123' } });
      assert.equal(short.json.api_key_hint, '...');
    });

    describe('validation: 400 invalid_request naming the parameter', () => {
      const cases: [string, unknown, string | null][] = [
        ['no provider', { api_key: 'x' }, 'provider'],
        ['unknown provider', { provider: 'cohere', api_key: 'x' }, 'provider'],
        ['openai without api_key', { provider: 'openai' }, 'api_key'],
        ['anthropic with an empty api_key', { provider: 'anthropic', api_key: '  ' }, 'api_key'],
        ['api_key with spaces inside', { provider: 'openai', api_key: 'sk a b' }, 'api_key'],
        ['azure without base_url', { provider: 'azure-openai', api_key: 'x' }, 'base_url'],
        ['azure without api_key', { provider: 'azure-openai', base_url: 'https://r.openai.azure.com' }, 'api_key'],
        ['azure with a bad api_version', { provider: 'azure-openai', api_key: 'x', base_url: 'https://r.openai.azure.com', api_version: '2024 10' }, 'api_version'],
        ['ollama without base_url', { provider: 'ollama' }, 'base_url'],
        ['a base_url that is not a URL', { provider: 'openai', api_key: 'x', base_url: 'api.openai.com' }, 'base_url'],
        ['a non-http base_url', { provider: 'ollama', base_url: 'file:///etc/passwd' }, 'base_url'],
        ['credentials inside base_url', { provider: 'ollama', base_url: 'http://user:pw@host:11434' }, 'base_url'],
        ['a query string in base_url', { provider: 'openai', api_key: 'x', base_url: 'https://h/v1?key=1' }, 'base_url'],
        ['a field that does not apply', { provider: 'openai', api_key: 'x', api_version: '2024-10-21' }, 'api_version'],
        ['vertex with neither credential', { provider: 'vertex-ai' }, 'api_key'],
        ['vertex with both credentials', { provider: 'vertex-ai', api_key: 'x', service_account_json: serviceAccountJson() }, 'service_account_json'],
        ['vertex key file that is not JSON', { provider: 'vertex-ai', service_account_json: '{not json' }, 'service_account_json'],
        ['vertex key file without private_key', { provider: 'vertex-ai', service_account_json: { client_email: 'a@b.c' } }, 'service_account_json'],
        ['vertex key file with a broken private_key', { provider: 'vertex-ai', service_account_json: { client_email: 'a@b.c', private_key: '-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n' } }, 'service_account_json'],
        ['vertex key file without a project and no project_id', { provider: 'vertex-ai', service_account_json: serviceAccountJson('x@y.z', null) }, 'project_id'],
        ['project_id with a Gemini API key', { provider: 'vertex-ai', api_key: 'x', project_id: 'p-1' }, 'project_id'],
        ['a bad location', { provider: 'vertex-ai', service_account_json: serviceAccountJson(), location: 'Europe West' }, 'location'],
        ['an unknown field', { provider: 'openai', api_key: 'x', organization: 'o' }, 'organization'],
        ['an empty name', { provider: 'openai', api_key: 'x', name: ' ' }, 'name'],
        ['a JSON array', [1, 2], null],
      ];
      for (const [name, body, param] of cases) {
        test(name, async () => {
          const res = await post(body);
          expectError(res, 400, 'invalid_request', param ?? undefined);
          assert.equal(res.json.error.type, 'invalid_request_error');
        });
      }

      test('PATCH keeps every account valid: required fields cannot be cleared, the provider cannot change', async () => {
        const k = await t.createKey({ orgSlug: 'patch-rules', permissions: ['providers:read', 'providers:write'] });
        const azure = await post({ provider: 'azure-openai', api_key: secret('az'), base_url: 'https://r.openai.azure.com' }, k.key);
        const id = azure.json.id;
        expectError(await call(`/api/v1/providers/${id}`, { method: 'PATCH', key: k.key, body: { base_url: null } }), 400, 'invalid_request', 'base_url');
        expectError(await call(`/api/v1/providers/${id}`, { method: 'PATCH', key: k.key, body: { api_key: null } }), 400, 'invalid_request', 'api_key');
        expectError(await call(`/api/v1/providers/${id}`, { method: 'PATCH', key: k.key, body: { provider: 'openai' } }), 400, 'invalid_request', 'provider');
        expectError(await call(`/api/v1/providers/${id}`, { method: 'PATCH', key: k.key, body: { project_id: 'p' } }), 400, 'invalid_request', 'project_id');
        const same = await call(`/api/v1/providers/${id}`, { method: 'PATCH', key: k.key, body: { provider: 'azure-openai', api_version: '2025-04-01-preview' } });
        assert.equal(same.status, 200, same.text);
        assert.equal(same.json.api_version, '2025-04-01-preview');
      });

      test('bad ids: too long -> 400, unknown -> 404', async () => {
        expectError(await call(`/api/v1/providers/${'p'.repeat(100)}`, { key: t.adminKey }), 400, 'invalid_request', 'id');
        expectError(await call('/api/v1/providers/prv_doesnotexist', { key: t.adminKey }), 404, 'not_found');
        expectError(await call('/api/v1/providers/prv_doesnotexist', { method: 'PATCH', key: t.adminKey, body: { name: 'x' } }), 404, 'not_found');
        expectError(await call('/api/v1/providers/prv_doesnotexist/test', { method: 'POST', key: t.adminKey }), 404, 'not_found');
      });
    });

    test('one account per provider per organisation: a duplicate is 409 conflict naming the existing one', async () => {
      const k = await t.createKey({ orgSlug: 'dup-a', permissions: ['providers:read', 'providers:write'] });
      const first = await post({ provider: 'anthropic', api_key: secret('sk-ant') }, k.key);
      assert.equal(first.status, 201);
      const dup = await post({ provider: 'anthropic', api_key: secret('sk-ant'), name: 'second' }, k.key);
      expectError(dup, 409, 'conflict', 'provider');
      assert.equal(dup.json.error.type, 'invalid_request_error');
      assert.ok(dup.json.error.message.includes(first.json.id));
      assert.equal((await call('/api/v1/providers', { key: k.key })).json.data.length, 1);
      const other = await t.createKey({ orgSlug: 'dup-b', permissions: ['providers:write'] });
      assert.equal((await post({ provider: 'anthropic', api_key: secret('sk-ant') }, other.key)).status, 201, 'another organisation may have its own');
      // After a delete, the slot is free again.
      await call(`/api/v1/providers/${first.json.id}`, { method: 'DELETE', key: k.key });
      assert.equal((await post({ provider: 'anthropic', api_key: secret('sk-ant') }, k.key)).status, 201);
    });

    test("organisation isolation: another organisation's account answers 404 and is never changed", async () => {
      const a = await t.createKey({ orgSlug: 'iso-a', permissions: ['providers:read', 'providers:write'] });
      const b = await t.createKey({ orgSlug: 'iso-b', permissions: ['providers:read', 'providers:write'] });
      const apiKey = secret('sk-proj');
      const acct = (await post({ provider: 'openai', api_key: apiKey }, a.key)).json;
      for (const [method, path, body] of [
        ['GET', `/api/v1/providers/${acct.id}`], ['PATCH', `/api/v1/providers/${acct.id}`, { name: 'pwned' }],
        ['DELETE', `/api/v1/providers/${acct.id}`], ['POST', `/api/v1/providers/${acct.id}/test`],
      ] as const) {
        expectError(await call(path, { method, key: b.key, body }), 404, 'not_found');
      }
      assert.deepEqual((await call('/api/v1/providers', { key: b.key })).json.data, []);
      assert.equal((await call(`/api/v1/providers/${acct.id}`, { key: a.key })).json.name, 'OpenAI', 'unchanged');
      const orgB = (await t.app.store.orgs.bySlug('iso-b'))!.id;
      assert.equal(await t.app.providerAccounts.resolve(orgB, 'openai'), undefined);
      const orgA = (await t.app.store.orgs.bySlug('iso-a'))!.id;
      assert.equal((await t.app.providerAccounts.resolve(orgA, 'openai'))?.apiKey, apiKey);
    });

    test('permissions: providers:read to read, providers:write to change or test', async () => {
      const acct = (await post({ provider: 'ollama', base_url: 'http://127.0.0.1:11434' })).json;
      const reader = await t.createKey({ permissions: ['providers:read'] });
      const none = await t.createKey({ permissions: ['chat', 'keys:read', 'keys:write'] });
      assert.equal((await call('/api/v1/providers', { key: reader.key })).status, 200);
      assert.equal((await call(`/api/v1/providers/${acct.id}`, { key: reader.key })).status, 200);
      for (const [method, path, body] of [
        ['POST', '/api/v1/providers', { provider: 'openai', api_key: 'x' }], ['PATCH', `/api/v1/providers/${acct.id}`, { name: 'x' }],
        ['DELETE', `/api/v1/providers/${acct.id}`], ['POST', `/api/v1/providers/${acct.id}/test`],
      ] as const) {
        const res = await call(path, { method, key: reader.key, body });
        expectError(res, 403, 'insufficient_permissions');
        assert.match(res.json.error.message, /'providers:write'/);
      }
      for (const path of ['/api/v1/providers', `/api/v1/providers/${acct.id}`]) {
        const res = await call(path, { key: none.key });
        expectError(res, 403, 'insufficient_permissions');
        assert.match(res.json.error.message, /'providers:read'/);
      }
      expectError(await call('/api/v1/providers'), 401, 'missing_api_key');
      assert.equal((await call(`/api/v1/providers/${acct.id}`, { key: t.adminKey })).json.name, 'Ollama', 'nothing changed');
    });

    test('audit events: created, updated (what changed, whether secrets were replaced) and deleted', async () => {
      const k = await t.createKey({ orgSlug: 'audited', permissions: ['providers:read', 'providers:write', 'keys:read'] });
      const acct = (await post({ provider: 'openai', api_key: secret('sk-proj') }, k.key)).json;
      await call(`/api/v1/providers/${acct.id}`, { method: 'PATCH', key: k.key, body: { base_url: 'https://proxy.example/v1' } });
      await call(`/api/v1/providers/${acct.id}`, { method: 'PATCH', key: k.key, body: { api_key: secret('sk-proj') } });
      await call(`/api/v1/providers/${acct.id}`, { method: 'PATCH', key: k.key, body: { name: 'OpenAI' } }); // no change: no event
      await call(`/api/v1/providers/${acct.id}`, { method: 'DELETE', key: k.key });
      const res = await call(`/api/v1/audit-events?target_id=${acct.id}`, { key: k.key });
      assert.equal(res.status, 200);
      const events = res.json.data;
      assert.deepEqual(events.map((e: any) => e.action), ['provider_account.deleted', 'provider_account.updated', 'provider_account.updated', 'provider_account.created']);
      assert.ok(events.every((e: any) => e.target_type === 'provider_account' && e.actor === `key:${k.id}`));
      assert.deepEqual(events[2].details.changes.base_url, { from: null, to: 'https://proxy.example/v1' });
      assert.equal(events[2].details.credentials_replaced, false);
      assert.equal(events[1].details.credentials_replaced, true);
      assert.equal(events[3].details.credential, 'api_key');
    });

    test('no secret in any row of any table: only ciphertext is stored', async () => {
      const apiKey = secret('sk-ant');
      const k = await t.createKey({ orgSlug: 'at-rest', permissions: ['providers:write'] });
      await post({ provider: 'anthropic', api_key: apiKey }, k.key);
      await post({ provider: 'vertex-ai', service_account_json: serviceAccountJson() }, k.key);
      const db = t.app.store.db.kysely;
      const tables = t.app.store.db.dialect === 'postgres'
        ? (await sql<{ name: string }>`select tablename as name from pg_tables where schemaname = 'public'`.execute(db)).rows
        : (await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db)).rows;
      assert.ok(tables.some((r) => r.name === 'provider_accounts'));
      let rows = 0;
      for (const { name } of tables) {
        for (const row of (await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(db)).rows) {
          rows++;
          const text = JSON.stringify(row);
          for (const s of secrets) assert.ok(!text.includes(s), `${name} holds a provider secret`);
        }
      }
      assert.ok(rows > 20);
      const stored = (await sql<{ secret_ciphertext: string }>`select secret_ciphertext from provider_accounts`.execute(db)).rows;
      assert.ok(stored.length >= 5 && stored.every((r) => /^v1\.[\w-]+\.[\w-]+\.[\w-]+$/.test(r.secret_ciphertext)));
    });
  });
}
