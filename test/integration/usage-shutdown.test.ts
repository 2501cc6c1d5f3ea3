/**
 * SIGTERM during load, on a real Backbone process: every request that got a 200 has its usage
 * row once the process has exited (checked from a fresh store connection). Requests still in
 * flight at SIGTERM finish, and the ledger writes their rows after the HTTP server is done.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../support/backends.js';
import { cliJson, servedSuite, serveEnv, sigtermUnderLoad, startServe } from '../support/serve-process.js';
import { FAKE_USAGE } from '../fakes/openai-wire.js';
import { openStore } from '../../src/store/index.js';
const all = await backends();
const LOAD = 400;

for (const backend of all) {
  describe(`usage on SIGTERM under load: ${backend.name}`, { skip: backend.skip }, () => {
    const suite = servedSuite(backend);

    test(`${LOAD} concurrent requests, SIGTERM mid-load: every 200 has its row after exit`, async (t) => {
      // One process here; test/integration/workers.test.ts does the same through --workers 2.
      const { url, fake } = suite;
      const env = serveEnv(url, fake.baseUrl, { BACKBONE_WORKERS: '1' });
      const created = await cliJson(env, 'keys', 'create', '--name', 'load', '--json');
      const server = suite.server = startServe(env);
      const base = await server.ready();
      const { logs } = server;

      // Upstream answers take 20-600 ms, so SIGTERM lands with many requests in flight.
      for (let i = 0; i < LOAD; i++) fake.fault({ type: 'delay', ms: 20 + Math.floor(Math.random() * 580) });
      const { code, served } = await sigtermUnderLoad(server.child, LOAD, async (i) => {
        const res = await fetch(`${base}/api/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${created.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `load ${i}` }], stream: i % 4 === 0 }),
        });
        const body = await res.text();
        // A 200 counts only when the whole answer arrived (a stream through to [DONE]).
        return res.status === 200 && (i % 4 !== 0 || body.includes('data: [DONE]')) ? res.headers.get('x-request-id') : null;
      });
      assert.equal(code, 0, `exit code; stderr: ${server.stderr()}`);

      const finishedAfter = served.filter((s) => s.afterSigterm).length;
      t.diagnostic(`${backend.name}: ${served.length} served (${finishedAfter} finished after SIGTERM), ${LOAD - served.length} refused`);
      assert.ok(finishedAfter > 0, 'requests in flight at SIGTERM were finished');
      assert.ok(!logs.some((l) => /dropped|could not be written/.test(l)), logs.filter((l) => /dropped|could not/.test(l)).join('\n'));

      const store = await openStore(url);
      try {
        const rows = await store.db.kysely.selectFrom('usage_events').selectAll().execute();
        const byId = new Map(rows.map((r) => [r.id, r]));
        const missing = served.filter((s) => !byId.has(s.id));
        assert.equal(missing.length, 0, `${missing.length} served requests have no usage row`);
        for (const s of served) {
          const r = byId.get(s.id)!;
          assert.equal(r.status, 200);
          assert.equal(r.key_id, created.id);
          assert.deepEqual([r.prompt_tokens, r.completion_tokens, r.cached_tokens], [FAKE_USAGE.prompt_tokens, FAKE_USAGE.completion_tokens, FAKE_USAGE.prompt_tokens_details.cached_tokens]);
        }
      } finally {
        await store.close();
      }
    });
  });
}
