/**
 * The limiter on the request path: `admit` + `reserve` + `finish` for one request, per counter
 * store, for a key on a plan with every kind of limit (rpm, tpm, concurrency, monthly quota) and a
 * key budget, and for a key with no limit at all (no store call). Sequential, so each figure is the
 * latency one request pays; `finish` is fire-and-forget on the request path, its store write is
 * measured separately ("settle, awaited"). `node --import tsx bench/limits.ts [n]`.
 */
import { randomBytes } from 'node:crypto';
import { Limiter } from '../src/limits/limiter.js';
import { MemoryRateLimitStore } from '../src/limits/memory-store.js';
import { RedisRateLimitStore } from '../src/limits/redis-store.js';
import { DEFAULT_PLANS, PlanBook, type Plan } from '../src/limits/plans.js';
import { chatNeed, type RouteLike } from '../src/limits/estimate.js';
import type { RateLimitStore } from '../src/limits/store.js';
import { NO_LIMITS, type Limits } from '../src/limits/types.js';
import { PriceTable } from '../src/metering/prices.js';
import type { ApiKey } from '../src/keys/types.js';
import type { UsageEvent } from '../src/metering/usage.js';
import { summarize, table, us } from './stats.js';

const PLAN: Plan = { name: 'bench', monthlyPlatformTokens: 1e15, byok: false, rpm: 1e12, tpm: 1e15, concurrency: 1000 };
const route: RouteLike = { provider: 'openai', requestedModel: 'gpt-4o-mini', upstreamModel: 'gpt-4o-mini', byok: false };
const need = chatNeed({ messages: [{ role: 'user', content: 'Hello there, how are you?' }], max_tokens: 256 });

function key(i: number, limits: Partial<Limits>, orgId: string): ApiKey {
  return {
    id: `key_${i}`, orgId, name: 'k', environment: 'live', prefix: 'sk_live_x', permissions: ['chat'], allowedModels: null, allowedIps: null,
    expiresAt: null, createdAt: 0, createdBy: null, lastUsedAt: null, revokedAt: null, updatedAt: 0, limits: { ...NO_LIMITS, ...limits },
  };
}

const event = (k: ApiKey): UsageEvent => ({
  requestId: 'r', orgId: k.orgId, keyId: k.id, endpoint: 'chat', model: 'gpt-4o-mini', provider: 'openai', upstreamModel: 'gpt-4o-mini',
  byok: false, stream: false, status: 200, errorCode: null, promptTokens: 20, completionTokens: 100, cachedTokens: 0, cacheWriteTokens: 0,
  reasoningTokens: 0, audioSeconds: null, costUsd: 0.00006, latencyMs: 1, ttftMs: null, createdAt: Date.now(),
});

async function run(label: string, store: RateLimitStore, n: number): Promise<(string | number)[][]> {
  const limiter = new Limiter({
    store, plans: new PlanBook([...DEFAULT_PLANS, PLAN], { error() {} }), prices: new PriceTable(), log: { warn() {}, error() {} },
    loadOrg: async (id) => ({ id, slug: id, name: id, plan: id === 'org_free' ? 'unlimited' : 'bench', createdAt: 0, limits: NO_LIMITS }),
    ledger: { costSince: async () => 0, platformTokensSince: async () => 0 },
  });
  const rows: (string | number)[][] = [];
  const cases: [string, ApiKey][] = [
    ['no limit applies', key(1, {}, 'org_free')],
    ['rpm + tpm + concurrency + quota + budget', key(2, { budgetUsd: 1e9, budgetPeriod: 'month' }, 'org_bench')],
  ];
  for (const [name, k] of cases) {
    for (let i = 0; i < Math.min(2000, n); i++) { const a = await limiter.admit(k); await a.reserve([route], need); a.finish(event(k)); } // warm-up
    const samples = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      const a = await limiter.admit(k);
      await a.reserve([route], need);
      a.finish(event(k));
      samples[i] = Number(process.hrtime.bigint() - t0);
    }
    const s = summarize(samples);
    rows.push([label, name, us(s.p50), us(s.p99), us(s.mean)]);
  }
  // The settlement's own store write, awaited (off the request path).
  const k = cases[1]![1];
  const samples = new Float64Array(Math.min(n, 5000));
  for (let i = 0; i < samples.length; i++) {
    const a = await limiter.admit(k);
    await a.reserve([route], need);
    const t0 = process.hrtime.bigint();
    await store.give([{ type: 'settle', key: `{${k.orgId}}:bench`, reserved: 1, actual: 1, ttlMs: 60_000 }, { type: 'release', key: `{${k.orgId}}:bench-c`, lease: 'x' }]);
    samples[i] = Number(process.hrtime.bigint() - t0);
    a.finish(event(k));
  }
  const s = summarize(samples);
  rows.push([label, 'settle, awaited (off the request path)', us(s.p50), us(s.p99), us(s.mean)]);
  await limiter.close();
  return rows;
}

export async function benchLimits(n = 20_000): Promise<string> {
  const rows = await run('memory', new MemoryRateLimitStore(), n);
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new RedisRateLimitStore(url, `backbone-bench:${randomBytes(4).toString('hex')}:`);
  if (await redis.ready(2000)) rows.push(...await run(`redis (${url.replace(/\/\/.*@/, '//')})`, redis, Math.min(n, 5000)));
  else { await redis.close(); rows.push(['redis', 'not reachable: skipped', '-', '-', '-']); }
  return `## Limiter: admit + reserve + finish per request (µs)\n\n${table(['store', 'case', 'p50', 'p99', 'mean'], rows)}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await benchLimits(Number(process.argv[2] ?? 20_000)));
