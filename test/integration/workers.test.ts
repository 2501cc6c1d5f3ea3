/**
 * `backbone serve --workers 2`, as real processes: both workers serve one port; a per-key limit is
 * counted once for both (not once per worker); /metrics aggregates both workers; a killed worker is
 * replaced; SIGTERM to the primary mid-load drains every worker and loses no usage row.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { backends } from '../support/backends.js';
import { TEST_SECRET } from '../support/app.js';
import { waitFor } from '../support/usage-events.js';
import { startFakeOpenAI } from '../fakes/openai.js';
import type { FakeServer } from '../fakes/server.js';
import { openStore } from '../../src/store/index.js';

const run = promisify(execFile);
const all = await backends();
const LOAD = 300;

interface Listening { url: string; pid: number; worker: number }

for (const backend of all) {
  describe(`serve --workers 2: ${backend.name}`, { skip: backend.skip }, () => {
    let fake: FakeServer & { baseUrl: string };
    let drop: () => Promise<void>;
    let url: string;
    let child: ChildProcess | undefined;

    before(async () => {
      const db = await backend.fresh();
      drop = db.drop;
      url = db.url;
      fake = await startFakeOpenAI();
    });
    after(async () => {
      if (child && child.exitCode === null) child.kill('SIGKILL');
      await fake?.close();
      await drop?.();
    });

    test('one port, one set of limits, aggregated metrics, a dead worker replaced, SIGTERM loses no usage row', async (t) => {
      const { BACKBONE_CONFIG: _config, NODE_TEST_CONTEXT: _test, ...inherited } = process.env;
      const env: NodeJS.ProcessEnv = {
        ...inherited, DATABASE_URL: url, BACKBONE_SECRET: TEST_SECRET, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info',
        OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: fake.baseUrl, BACKBONE_AUTH_FAILURE_LIMIT: '100000',
      };
      const cli = ['--import', 'tsx', 'src/main.ts'];
      const key = JSON.parse((await run(process.execPath, [...cli, 'keys', 'create', '--name', 'load', '--json'], { env })).stdout);
      const limited = JSON.parse((await run(process.execPath, [...cli, 'keys', 'create', '--name', 'rpm5', '--rpm', '5', '--json'], { env })).stdout);

      child = spawn(process.execPath, [...cli, 'serve', '--workers', '2'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const logs: string[] = [];
      const listening: Listening[] = [];
      let stderr = '';
      child.stderr!.on('data', (c) => { stderr += String(c); });
      createInterface({ input: child.stdout! }).on('line', (line) => {
        logs.push(line);
        try {
          const o = JSON.parse(line);
          if (o.url && /Backbone listening/.test(o.msg)) listening.push({ url: o.url, pid: o.pid, worker: o.worker });
        } catch { /* not JSON */ }
      });
      await waitFor(() => listening.length >= 2 || child!.exitCode !== null, 60_000, 'two workers listening');
      assert.equal(listening.length, 2, stderr);
      assert.equal(listening[0]!.url, listening[1]!.url, 'one port');
      assert.notEqual(listening[0]!.pid, listening[1]!.pid, 'two processes');
      assert.ok(!listening.some((l) => l.pid === child!.pid), 'the primary serves nothing itself');
      const base = listening[0]!.url;

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
      let done = 0;
      let atSigterm = -1;
      const ok: { id: string; afterSigterm: boolean }[] = [];
      const requests = Array.from({ length: LOAD }, async (_, i) => {
        try {
          const res = await chat(key.key, i);
          if (res.status === 200) ok.push({ id: res.headers.get('x-request-id')!, afterSigterm: atSigterm >= 0 });
        } catch { /* refused once the workers stop taking requests */ }
        done++;
      });
      while (done < 40) await new Promise((r) => setTimeout(r, 5));
      atSigterm = done;
      child.kill('SIGTERM');
      await Promise.all(requests);
      const [code] = child.exitCode !== null ? [child.exitCode] : await once(child, 'exit');
      assert.equal(code, 0, `exit code; stderr: ${stderr}`);
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
