/**
 * BYOK accounts at work, on every storage backend: the connection check against the fake provider
 * servers (right key, wrong key, server down, hang), and `resolve()` — memory-only when warm,
 * invalidated at once by the node that changed an account and through the change feed elsewhere.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { backends } from '../support/backends.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { startFakeOpenAI } from '../fakes/openai.js';
import { startFakeAnthropic } from '../fakes/anthropic.js';
import { startFakeOllama } from '../fakes/ollama.js';
import { startFakeAzureOpenAI } from '../fakes/azure-openai.js';
import { startFakeGemini, FAKE_SERVICE_ACCOUNT_EMAIL, type FakeGemini } from '../fakes/vertex-ai.js';
import type { FakeServer } from '../fakes/server.js';
import { createFetchProbe } from '../../src/accounts/probe.js';
import { ApiError } from '../../src/errors.js';

const all = await backends();
const GOOD = 'test-key';
const WRONG = 'wrong-key-0123456789abcdef';

type Fake = FakeServer & { baseUrl: string };
const fakes: Record<'openai' | 'anthropic' | 'ollama' | 'azure-openai' | 'vertex-ai', Fake> = {} as never;
let gemini: FakeGemini;
/** An origin where nothing listens any more. */
let downUrl: string;

before(async () => {
  fakes.openai = await startFakeOpenAI();
  fakes.anthropic = await startFakeAnthropic();
  fakes.ollama = await startFakeOllama({ apiKey: GOOD });
  fakes['azure-openai'] = await startFakeAzureOpenAI();
  fakes['vertex-ai'] = gemini = await startFakeGemini();
  const gone = await startFakeOpenAI();
  downUrl = gone.baseUrl;
  await gone.close();
});
after(async () => { for (const f of Object.values(fakes)) await f.close(); });

for (const backend of all) {
  describe(`provider connections and resolve: ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    let url: string;
    let drop: () => Promise<void>;
    let slug = 0;

    /** A fresh organisation and a key that may manage its providers. */
    const org = async () => {
      const name = `org-${++slug}`;
      const k = await t.createKey({ orgSlug: name, permissions: ['providers:read', 'providers:write'] });
      return { key: k.key, id: (await t.app.store.orgs.bySlug(name))!.id };
    };
    const create = async (key: string, body: Record<string, unknown>) => {
      const res = await t.call('/api/v1/providers', { key, body });
      assert.equal(res.status, 201, res.text);
      return res.json as { id: string };
    };
    const check = async (key: string, id: string) => {
      const res = await t.call(`/api/v1/providers/${id}/test`, { method: 'POST', key });
      assert.equal(res.status, 200, res.text);
      assert.ok(!res.text.includes(WRONG) && !res.text.includes(`"${GOOD}"`), 'the result never holds the key');
      return res.json;
    };

    before(async () => {
      const db = await backend.fresh();
      drop = db.drop;
      url = db.url;
      t = await startTestApp(db.url, { BACKBONE_AUTH_FAILURE_LIMIT: '100000' });
    });
    after(async () => {
      await t?.close();
      assert.ok(!(t?.logs.join('') ?? '').includes(WRONG), 'a provider key was logged');
      await drop?.();
    });

    const providers = ['openai', 'anthropic', 'ollama', 'azure-openai', 'vertex-ai'] as const;
    for (const provider of providers) {
      test(`${provider}: ok with the right key, ok:false with a wrong one or when the server is down`, async () => {
        const fake = fakes[provider];
        const o = await org();
        const good = await create(o.key, { provider, api_key: GOOD, base_url: fake.baseUrl });
        const seen = fake.requests.length;
        const ok = await check(o.key, good.id);
        assert.equal(ok.ok, true, JSON.stringify(ok));
        assert.equal(ok.status, 200);
        assert.equal(typeof ok.latency_ms, 'number');
        assert.equal(fake.requests.length, seen + 1, 'one probe request reached the provider');
        assert.equal(fake.requests.at(-1)!.method, 'GET');

        // The same account with a wrong key (PATCH replaces only the key).
        await t.call(`/api/v1/providers/${good.id}`, { method: 'PATCH', key: o.key, body: { api_key: WRONG } });
        const wrong = await check(o.key, good.id);
        assert.equal(wrong.ok, false);
        assert.ok(wrong.status >= 400 && wrong.status < 500, JSON.stringify(wrong));
        assert.equal(typeof wrong.error.message, 'string');
        assert.ok(wrong.error.message.length > 0);
        assert.equal(typeof wrong.error.code, 'string');

        // The server is down.
        await t.call(`/api/v1/providers/${good.id}`, { method: 'PATCH', key: o.key, body: { api_key: GOOD, base_url: downUrl } });
        const down = await check(o.key, good.id);
        assert.equal(down.ok, false);
        assert.equal(down.status, undefined, 'no HTTP status without an answer');
        assert.equal(down.error.code, 'upstream_error');
        assert.match(down.error.message, /connect/i);
      });
    }

    test('openai: a wrong key maps to upstream_error with the provider status', async () => {
      const o = await org();
      const a = await create(o.key, { provider: 'openai', api_key: WRONG, base_url: fakes.openai.baseUrl });
      const r = await check(o.key, a.id);
      assert.deepEqual({ ok: r.ok, status: r.status, code: r.error.code }, { ok: false, status: 401, code: 'upstream_error' });
      assert.match(r.error.message, /rejected the provider credentials/);
    });

    test('vertex-ai with a service account: token exchange and a Vertex call against the fake', async () => {
      const o = await org();
      const a = await create(o.key, { provider: 'vertex-ai', service_account_json: gemini.serviceAccountJson, base_url: gemini.baseUrl });
      const r = await check(o.key, a.id);
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(gemini.requests.at(-1)!.path, '/v1/projects/fake-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:countTokens');
      const shown = await t.call(`/api/v1/providers/${a.id}`, { key: o.key });
      assert.equal(shown.json.service_account_email, FAKE_SERVICE_ACCOUNT_EMAIL);
    });

    test('a provider that never answers: upstream_timeout after the probe timeout', async () => {
      const o = await org();
      const a = await create(o.key, { provider: 'anthropic', api_key: GOOD, base_url: fakes.anthropic.baseUrl });
      fakes.anthropic.fault({ type: 'hang' });
      const r = await t.app.providerAccounts.test(o.id, a.id, createFetchProbe(300));
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.error.code, 'upstream_timeout');
    });

    test('a provider error that quotes the key is redacted', async () => {
      const o = await org();
      // Ollama's mapping passes the upstream message through as is (OpenAI's masks keys itself).
      const secretKey = 'ollama-echoed-back-0123456789';
      const a = await create(o.key, { provider: 'ollama', api_key: secretKey, base_url: 'http://10.9.9.9:11434' });
      const r = await t.app.providerAccounts.test(o.id, a.id, async (call) => {
        assert.equal(call.url, 'http://10.9.9.9:11434/api/tags');
        assert.equal(call.headers.authorization, `Bearer ${secretKey}`, 'the probe carries the auth headers');
        return { status: 401, bodyText: JSON.stringify({ error: `invalid token ${secretKey} for this server` }) };
      });
      assert.equal(r.ok, false);
      assert.ok(!r.ok && !r.error.message.includes(secretKey) && r.error.message.includes('[redacted]'), JSON.stringify(r));
    });

    test('resolve() is memory-only when warm, for present and absent providers', async () => {
      const o = await org();
      await create(o.key, { provider: 'openai', api_key: 'sk-first-0123456789', base_url: 'https://proxy.example/v1' });
      // Drain the change feed first: the create's own change row would otherwise invalidate the
      // cache between the two resolve() calls whenever the poller happens to run in between.
      await t.app.changes.poll();
      const repo = t.app.store.providerAccounts;
      const original = repo.list;
      let queries = 0;
      repo.list = (orgId) => { queries++; return original.call(repo, orgId); };
      try {
        const first = await t.app.providerAccounts.resolve(o.id, 'openai');
        assert.deepEqual(first, { provider: 'openai', baseUrl: 'https://proxy.example/v1', apiKey: 'sk-first-0123456789' });
        assert.ok(Object.isFrozen(first));
        assert.equal(await t.app.providerAccounts.resolve(o.id, 'openai'), first);
        assert.equal(await t.app.providerAccounts.resolve(o.id, 'ollama'), undefined);
        assert.deepEqual(await t.app.providerAccounts.providers(o.id), ['openai']);
        assert.equal(queries, 1, 'one query for the whole organisation, then memory');
      } finally {
        repo.list = original;
      }
    });

    test('an update or delete takes effect at once on the node that made it', async () => {
      const o = await org();
      const a = await create(o.key, { provider: 'anthropic', api_key: 'sk-ant-old-0123456789' });
      assert.equal((await t.app.providerAccounts.resolve(o.id, 'anthropic'))?.apiKey, 'sk-ant-old-0123456789');
      await t.call(`/api/v1/providers/${a.id}`, { method: 'PATCH', key: o.key, body: { api_key: 'sk-ant-new-0123456789' } });
      assert.equal((await t.app.providerAccounts.resolve(o.id, 'anthropic'))?.apiKey, 'sk-ant-new-0123456789');
      await t.call(`/api/v1/providers/${a.id}`, { method: 'DELETE', key: o.key });
      assert.equal(await t.app.providerAccounts.resolve(o.id, 'anthropic'), undefined);
      assert.deepEqual(await t.app.providerAccounts.providers(o.id), []);
    });

    test('another node drops its cached accounts when the change feed says so', async () => {
      // A second instance on the same database; its poller is driven by hand.
      const t2 = await startTestApp(url, { BACKBONE_INVALIDATION_POLL_MS: '60000', BACKBONE_INVALIDATION_BUS: 'poll' });
      try {
        const o = await org();
        const a = await create(o.key, { provider: 'openai', api_key: 'sk-node-old-0123456789' });
        const other = t2.app.providerAccounts;
        assert.equal((await other.resolve(o.id, 'openai'))?.apiKey, 'sk-node-old-0123456789');
        assert.equal(await other.resolve(o.id, 'ollama'), undefined);

        await t.call(`/api/v1/providers/${a.id}`, { method: 'PATCH', key: o.key, body: { api_key: 'sk-node-new-0123456789' } });
        assert.equal((await other.resolve(o.id, 'openai'))?.apiKey, 'sk-node-old-0123456789', 'still cached before the poll');
        await t2.app.changes.poll();
        assert.equal((await other.resolve(o.id, 'openai'))?.apiKey, 'sk-node-new-0123456789');

        await create(o.key, { provider: 'ollama', base_url: 'http://10.1.2.3:11434' });
        await t2.app.changes.poll();
        assert.equal((await other.resolve(o.id, 'ollama'))?.baseUrl, 'http://10.1.2.3:11434', 'a cached absence is dropped too');

        await t.call(`/api/v1/providers/${a.id}`, { method: 'DELETE', key: o.key });
        await t2.app.changes.poll();
        assert.equal(await other.resolve(o.id, 'openai'), undefined);
      } finally {
        await t2.close();
      }
    });

    test("a ciphertext copied into another organisation's row does not decrypt there", async () => {
      const victim = await org();
      const thief = await org();
      await create(victim.key, { provider: 'openai', api_key: 'sk-victim-0123456789' });
      const mine = await create(thief.key, { provider: 'openai', api_key: 'sk-thief-0123456789' });
      await create(thief.key, { provider: 'anthropic', api_key: GOOD, base_url: fakes.anthropic.baseUrl });
      const db = t.app.store.db.kysely;
      await sql`update provider_accounts set secret_ciphertext = (select secret_ciphertext from provider_accounts where org_id = ${victim.id} and provider = 'openai') where id = ${mine.id}`.execute(db);
      t.app.providerAccounts.invalidateOrg(thief.id);
      await assert.rejects(t.app.providerAccounts.resolve(thief.id, 'openai'), (e: unknown) => e instanceof ApiError && e.code === 'internal_error' && !e.message.includes('sk-victim'));
      assert.equal((await t.app.providerAccounts.resolve(thief.id, 'anthropic'))?.apiKey, GOOD, "the organisation's other accounts still work");
      const r = await check(thief.key, mine.id);
      assert.equal(r.ok, false);
      assert.equal(r.error.code, 'internal_error');
      assert.ok(!JSON.stringify(r).includes('sk-victim'));
      // Updating without new credentials is refused; giving them again repairs the account.
      const refused = await t.call(`/api/v1/providers/${mine.id}`, { method: 'PATCH', key: thief.key, body: { name: 'x' } });
      assert.equal(refused.status, 400);
      assert.equal(refused.json.error.param, 'api_key');
      assert.equal((await t.call(`/api/v1/providers/${mine.id}`, { method: 'PATCH', key: thief.key, body: { api_key: 'sk-thief-again-0123456789' } })).status, 200);
      assert.equal((await t.app.providerAccounts.resolve(thief.id, 'openai'))?.apiKey, 'sk-thief-again-0123456789');
    });
  });
}
