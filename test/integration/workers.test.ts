/**
 * `backbone serve --workers 2`, as real processes: both workers serve one port; a per-key limit is
 * counted once for both (not once per worker); /metrics aggregates both workers; a killed worker is
 * replaced; SIGTERM to the primary mid-load drains every worker and loses no usage row.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../support/backends.js';
import { cliJson, servedSuite, serveEnv, sigtermUnderLoad, startServe } from '../support/serve-process.js';
import { waitFor } from '../support/usage-events.js';
import { openStore } from '../../src/store/index.js';
const all = await backends();
const LOAD = 300;

for (const backend of all) {
  describe(`serve --workers 2: ${backend.name}`, { skip: backend.skip }, () => {
    const suite = servedSuite(backend);

    test('one port, one set of limits, aggregated metrics, a dead worker replaced, SIGTERM loses no usage row', async (t) => {
      const { url, fake } = suite;
      const env = serveEnv(url, fake.baseUrl);
      const key = await cliJson(env, 'keys', 'create', '--name', 'load', '--json');
      const limited = await cliJson(env, 'keys', 'create', '--name', 'rpm5', '--rpm', '5', '--json');

      const server = suite.server = startServe(env, ['--workers', '2']);
      const { child, logs, listening } = server;
      const base = await server.ready(2);
      assert.equal(listening.length, 2, server.stderr());
      assert.equal(listening[0]!.url, listening[1]!.url, 'one port');
      assert.notEqual(listening[0]!.pid, listening[1]!.pid, 'two processes');
      assert.ok(!listening.some((l) => l.pid === child.pid), 'the primary serves nothing itself');

      const chat = async (k: string, i = 0) => {
        const res = await fetch(`${base}/api/v1/chat/completions`, {
          method: 'POST', headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `hi ${i}` }] }),
        });
        await res.text();
        return res;
      };

      // One set of limits: rpm 5 admits 5 over both workers, not 5 per worker.
      const limitedResults = await Promise.all(Array.from({ length: 16 }, () => chat(limited.key)));
      assert.equal(limitedResults.filter((r) => r.status === 200).length, 5);
      const ready = await (await fetch(`${base}/readyz`)).json() as any;
      assert.deepEqual(ready.checks.limits, backend.name === 'sqlite' ? { store: 'memory', mode: 'shared_by_workers' } : { store: 'postgres', mode: 'shared', since: null, pending_settlements: 0 });

      // Metrics from /metrics count both workers' requests.
      const plain = await Promise.all(Array.from({ length: 20 }, (_, i) => chat(key.key, i)));
      assert.ok(plain.every((r) => r.status === 200));
      const text = await (await fetch(`${base}/metrics`)).text();
      const served = text.split('\n').filter((l) => l.startsWith('backbone_requests_total{') && l.includes('status="200"')).reduce((s, l) => s + Number(l.split(' ').pop()), 0);
      assert.equal(served, 25, 'aggregated over both workers');
      assert.match(text, /^backbone_workers 2$/m);
      const rejected = text.split('\n').find((l) => l.startsWith('backbone_limit_rejections_total{code="rate_limit_exceeded"}'));
      assert.equal(Number(rejected?.split(' ').pop()), 11);

      // A worker killed is replaced, and the other one keeps serving meanwhile.
      const victim = listening[0]!;
      process.kill(victim.pid, 'SIGKILL');
      await waitFor(() => listening.length >= 3, 60_000, 'a replacement worker');
      const replacement = listening[2]!;
      assert.equal(replacement.url, base);
      assert.ok(![listening[0]!.pid, listening[1]!.pid].includes(replacement.pid));
      assert.ok(logs.some((l) => /worker died; starting a new one/.test(l)));
      const after = await Promise.all(Array.from({ length: 10 }, (_, i) => chat(key.key, i)));
      assert.ok(after.every((r) => r.status === 200));

      // SIGTERM to the primary with requests in flight: every 200 has its usage row after exit.
      for (let i = 0; i < LOAD; i++) fake.fault({ type: 'delay', ms: 20 + Math.floor(Math.random() * 400) });
      const { code, served: ok } = await sigtermUnderLoad(child, LOAD, async (i) => {
        const res = await chat(key.key, i);
        return res.status === 200 ? res.headers.get('x-request-id') : null;
      });
      assert.equal(code, 0, `exit code; stderr: ${server.stderr()}`);
      t.diagnostic(`${backend.name}: ${ok.length} served under load (${ok.filter((s) => s.afterSigterm).length} finished after SIGTERM)`);
      assert.ok(ok.some((s) => s.afterSigterm), 'requests in flight at SIGTERM were finished');
      assert.equal(logs.filter((l) => /"msg":"shutting down"/.test(l)).length, 2, 'both workers drained');

      const store = await openStore(url);
      try {
        const rows = await store.db.kysely.selectFrom('usage_events').select('id').where('id', 'in', ok.map((s) => s.id)).execute();
        assert.equal(rows.length, ok.length, `${ok.length - rows.length} served requests have no usage row`);
      } finally {
        await store.close();
      }
    });
  });
}
