/**
 * SIGTERM during load, on a real Backbone process: every request that got a 200 has its usage
 * row once the process has exited (checked from a fresh store connection). Requests still in
 * flight at SIGTERM finish, and the ledger writes their rows after the HTTP server is done.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { backends } from '../support/backends.js';
import { TEST_SECRET } from '../support/app.js';
import { startFakeOpenAI } from '../fakes/openai.js';
import { FAKE_USAGE } from '../fakes/openai-wire.js';
import type { FakeServer } from '../fakes/server.js';
import { openStore } from '../../src/store/index.js';

const run = promisify(execFile);
const all = await backends();
const LOAD = 400;

for (const backend of all) {
  describe(`usage on SIGTERM under load: ${backend.name}`, { skip: backend.skip }, () => {
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

    test(`${LOAD} concurrent requests, SIGTERM mid-load: every 200 has its row after exit`, async (t) => {
      // NODE_TEST_CONTEXT would make the server believe it runs under the test runner.
      const { BACKBONE_CONFIG: _config, NODE_TEST_CONTEXT: _test, ...inherited } = process.env;
      const env: NodeJS.ProcessEnv = {
        ...inherited, DATABASE_URL: url, BACKBONE_SECRET: TEST_SECRET, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info',
        OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: fake.baseUrl, BACKBONE_AUTH_FAILURE_LIMIT: '100000',
      };
      const cli = ['--import', 'tsx', 'src/main.ts'];
      const created = JSON.parse((await run(process.execPath, [...cli, 'keys', 'create', '--name', 'load', '--json'], { env })).stdout);

      child = spawn(process.execPath, [...cli, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const logs: string[] = [];
      let stderr = '';
      child.stderr!.on('data', (c) => { stderr += String(c); });
      const lines = createInterface({ input: child.stdout! });
      const base = await new Promise<string>((resolve, reject) => {
        lines.on('line', (line) => {
          logs.push(line);
          try { const o = JSON.parse(line); if (o.url && /listening/.test(o.msg)) resolve(o.url); } catch { /* not JSON */ }
        });
        child!.once('exit', (code) => reject(new Error(`server exited (${code}) before listening: ${stderr}`)));
      });

      // Upstream answers take 20-600 ms, so SIGTERM lands with many requests in flight.
      for (let i = 0; i < LOAD; i++) fake.fault({ type: 'delay', ms: 20 + Math.floor(Math.random() * 580) });
      let done = 0;
      let atSigterm = -1;
      const served: { id: string; afterSigterm: boolean }[] = [];
      const requests = Array.from({ length: LOAD }, async (_, i) => {
        try {
          const res = await fetch(`${base}/api/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${created.key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `load ${i}` }], stream: i % 4 === 0 }),
          });
          const body = await res.text();
          // A 200 counts only when the whole answer arrived (a stream through to [DONE]).
          if (res.status === 200 && (i % 4 !== 0 || body.includes('data: [DONE]'))) {
            served.push({ id: res.headers.get('x-request-id')!, afterSigterm: atSigterm >= 0 });
          }
        } catch { /* refused or reset once the server stops taking requests: not served */ }
        done++;
      });
      while (done < 40) await new Promise((r) => setTimeout(r, 5));
      atSigterm = done;
      child.kill('SIGTERM');
      await Promise.all(requests);
      const [code] = child.exitCode !== null ? [child.exitCode] : await once(child, 'exit');
      assert.equal(code, 0, `exit code; stderr: ${stderr}`);

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
