/**
 * Three Backbone instances sharing one PostgreSQL, without and with Redis (both required in CI,
 * skipped with a reason elsewhere):
 * - a key revoked through instance A (API, and the CLI: another process) is refused by B and C
 *   within one second — measured and asserted, with the fallback poll slowed to its safety interval
 *   so only the notification channel can make it;
 * - a per-key limit of N requests per minute admits exactly N across the instances;
 * - an organisation budget is never overspent by concurrent requests spread over the instances.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { startGateway, type GatewayFixture } from '../support/gateway.js';
import { TEST_SECRET, type TestApp } from '../support/app.js';
import { backends } from '../support/backends.js';
import { dropPrefix, redisSkip, REDIS_TEST_URL, testPrefix } from '../support/redis.js';
import { assertRateLimited, keyWith, testAudit } from '../support/limits.js';
import { waitFor } from '../support/usage-events.js';

const run = promisify(execFile);
const pgBackend = (await backends()).find((b) => b.name === 'postgres')!;
const redisProblem = await redisSkip();
const hi = (extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], ...extra });

const CONFIGS = [
  { name: 'PostgreSQL', redis: false, skip: pgBackend.skip, limits: 'postgres', bus: 'postgres' },
  { name: 'PostgreSQL + Redis', redis: true, skip: pgBackend.skip ?? redisProblem, limits: 'redis', bus: 'redis' },
] as const;

/** Hit `t` with `key` until it answers 401 key_revoked; the time it took from `t0` (ms). */
async function refusedAfter(t: TestApp, key: string, t0: number): Promise<number> {
  for (;;) {
    const r = await t.call('/api/v1/models', { key });
    if (r.status === 401) {
      assert.equal(r.json.error.code, 'key_revoked');
      return performance.now() - t0;
    }
    assert.equal(r.status, 200, r.text);
    if (performance.now() - t0 > 10_000) throw new Error('the key was still accepted 10 s after it was revoked');
  }
}

for (const c of CONFIGS) {
  describe(`three instances on ${c.name}`, { skip: c.skip }, () => {
    let g: GatewayFixture;
    let instances: TestApp[];
    let drop: () => Promise<void>;
    let env: Record<string, string>;
    const prefix = testPrefix();

    before(async () => {
      const db = await pgBackend.fresh();
      drop = db.drop;
      env = {
        DATABASE_URL: db.url,
        // The fallback poll at its safety interval: propagation under a second must come from the channel.
        BACKBONE_INVALIDATION_POLL_MS: '500', BACKBONE_INVALIDATION_SAFETY_POLL_MS: '5000',
        ...(c.redis ? { REDIS_URL: REDIS_TEST_URL, BACKBONE_REDIS_PREFIX: prefix } : {}),
      };
      g = await startGateway(env);
      instances = [g.t, await g.startPeer(), await g.startPeer()];
      for (const t of instances) {
        assert.equal(t.app.limiter.store.kind, c.limits);
        assert.equal(t.app.changes.state().bus, c.bus);
      }
      await waitFor(() => instances.every((t) => t.app.changes.state().mode === 'push'), 10_000, 'every instance subscribed');
    });
    after(async () => {
      await g?.close();
      if (c.redis) await dropPrefix(prefix);
      await drop?.();
    });

    const chat = (t: TestApp, key: string, body = hi()) => t.call('/api/v1/chat/completions', { key, body });

    test('a key revoked through instance A is refused by B and C within one second (API)', async () => {
      const [a, b, cc] = instances as [TestApp, TestApp, TestApp];
      const times: number[] = [];
      for (let round = 0; round < 3; round++) {
        const { id, key } = await a.createKey({ name: `revoke-${round}` });
        for (const t of [b, cc]) assert.equal((await t.call('/api/v1/models', { key })).status, 200, 'cached on B and C');
        const t0 = performance.now();
        const revoked = await a.call(`/api/v1/keys/${id}/revoke`, { method: 'POST', key: a.adminKey });
        assert.equal(revoked.status, 200);
        assert.equal((await a.call('/api/v1/models', { key })).status, 401, 'at once on A');
        times.push(...(await Promise.all([refusedAfter(b, key, t0), refusedAfter(cc, key, t0)])));
      }
      console.log(`# ${c.name}: revoke on A -> refused on B/C after ${times.map((x) => x.toFixed(1)).join(', ')} ms`);
      for (const ms of times) assert.ok(ms < 1000, `refused after ${ms.toFixed(1)} ms`);
    });

    test('a key revoked by the CLI (another process) is refused by every instance within one second', async () => {
      const { id, key } = await instances[0]!.createKey({ name: 'cli-revoke' });
      for (const t of instances) assert.equal((await t.call('/api/v1/models', { key })).status, 200);
      const { BACKBONE_CONFIG: _c, NODE_TEST_CONTEXT: _t, ...inherited } = process.env;
      await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'keys', 'revoke', id], { env: { ...inherited, ...env, BACKBONE_SECRET: TEST_SECRET, LOG_LEVEL: 'silent' } });
      const t0 = performance.now(); // the CLI has committed and exited
      const times = await Promise.all(instances.map((t) => refusedAfter(t, key, t0)));
      console.log(`# ${c.name}: CLI revoke -> refused after ${times.map((x) => x.toFixed(1)).join(', ')} ms`);
      for (const ms of times) assert.ok(ms < 1000, `refused after ${ms.toFixed(1)} ms`);
    });

    test('rpm: a per-key limit of 7 admits exactly 7 of 30 concurrent requests spread over three instances', async () => {
      const { key } = await keyWith(instances[0]!, { rpm: 7 });
      const all = await Promise.all(Array.from({ length: 30 }, (_, i) => chat(instances[i % 3]!, key)));
      assert.equal(all.filter((r) => r.status === 200).length, 7);
      for (const r of all.filter((x) => x.status !== 200)) assertRateLimited(r);
      const seen = all.filter((r) => r.status === 200).map((r) => Number(r.headers.get('x-ratelimit-remaining-requests'))).sort();
      assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6], 'one window, counted once across all three');
    });

    test('concurrency: a limit of 2 holds across three instances', async () => {
      const { key } = await keyWith(instances[0]!, { concurrency: 2 });
      for (let i = 0; i < 6; i++) g.fakes.openai.fault({ type: 'delay', ms: 300 });
      const all = await Promise.all(Array.from({ length: 6 }, (_, i) => chat(instances[i % 3]!, key)));
      g.fakes.openai.clearFaults();
      assert.equal(all.filter((r) => r.status === 200).length, 2);
      for (const r of all.filter((x) => x.status !== 200)) assertRateLimited(r);
      assert.equal((await chat(instances[2]!, key)).status, 200, 'the slots were released');
    });

    test('budget: concurrent requests over three instances never overspend an organisation budget', async () => {
      const a = instances[0]!;
      const org = await a.app.store.orgs.create({ slug: `race-${c.limits}`, name: 'Race', plan: 'unlimited' });
      const budget = 0.00002; // four worst cases of ~$0.00000465 (see limits.test.ts)
      await a.app.store.orgs.update(org.id, { limits: { budgetUsd: budget, budgetPeriod: 'day' } }, testAudit(org.id));
      const keys = await Promise.all([keyWith(a, {}, org.id), keyWith(a, {}, org.id), keyWith(a, {}, org.id)]);
      for (let i = 0; i < 24; i++) g.fakes.openai.fault({ type: 'delay', ms: 200 });
      const all = await Promise.all(Array.from({ length: 24 }, (_, i) => chat(instances[i % 3]!, keys[i % 3]!.key, hi({ max_tokens: 5 }))));
      g.fakes.openai.clearFaults();
      const ok = all.filter((r) => r.status === 200).length;
      assert.ok(ok >= 1 && ok <= 4, `${ok} served`);
      for (const r of all.filter((x) => x.status !== 200)) assert.equal(r.json.error.code, 'insufficient_quota');
      const spent = g.usage.filter((e) => e.orgId === org.id).reduce((s, e) => s + e.costUsd, 0);
      assert.ok(spent > 0 && spent <= budget, `recorded spend ${spent} within ${budget}`);
      const scope = `{${org.id}}:budget:o:day:${new Date().toISOString().slice(0, 10)}`;
      await waitFor(async () => (await instances[1]!.app.limiter.store.budget(scope)).reserved === 0, 5000, 'settlements');
      assert.deepEqual(await instances[2]!.app.limiter.store.budget(scope), { spent: Math.round(spent * 1e9), reserved: 0 }, 'the shared counter holds exactly what was recorded');
    });
  });
}
