/** Periods, headers, plans, estimates and the limiter's own rules (seeding, exactly-once, outages). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAiDuration, periodOf } from '../../src/limits/periods.js';
import { DEFAULT_PLANS, parsePlans, PlanBook } from '../../src/limits/plans.js';
import { chatNeed, embeddingsNeed, outputCap, tokensOf, type RouteLike } from '../../src/limits/estimate.js';
import { Limiter } from '../../src/limits/limiter.js';
import { MemoryRateLimitStore } from '../../src/limits/memory-store.js';
import type { RateLimitStore } from '../../src/limits/store.js';
import { NO_LIMITS, type Limits } from '../../src/limits/types.js';
import { PriceTable } from '../../src/metering/prices.js';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import type { ApiKey } from '../../src/keys/types.js';
import type { UsageEvent } from '../../src/metering/usage.js';

test('periods are UTC days, Monday weeks and calendar months', () => {
  const t = Date.UTC(2026, 4, 14, 23, 30); // Thursday 14 May 2026
  assert.deepEqual(periodOf('day', t), { id: '2026-05-14', start: Date.UTC(2026, 4, 14), end: Date.UTC(2026, 4, 15) });
  assert.deepEqual(periodOf('week', t), { id: '2026-05-11', start: Date.UTC(2026, 4, 11), end: Date.UTC(2026, 4, 18) });
  assert.equal(periodOf('week', Date.UTC(2026, 4, 17, 12)).id, '2026-05-11', 'Sunday belongs to the week that began on Monday');
  assert.deepEqual(periodOf('month', Date.UTC(2026, 11, 31, 23)), { id: '2026-12-01', start: Date.UTC(2026, 11, 1), end: Date.UTC(2027, 0, 1) });
  assert.deepEqual(periodOf(null, t), { id: 'all', start: 0, end: null });
});

test("reset durations use OpenAI's format", () => {
  assert.equal(openAiDuration(20), '20ms');
  assert.equal(openAiDuration(1000), '1s');
  assert.equal(openAiDuration(1500), '1.5s');
  assert.equal(openAiDuration(360_000), '6m0s');
  assert.equal(openAiDuration(59_999.2), '1m0s');
  assert.equal(openAiDuration(3_723_000), '1h2m3s');
});

describe('plans', () => {
  test('built-in plans match the product: BYOK from Scale up, quotas below Enterprise', () => {
    const by = new Map(DEFAULT_PLANS.map((p) => [p.name, p]));
    assert.deepEqual([...by.keys()], ['free', 'starter', 'scale', 'enterprise', 'unlimited']);
    assert.deepEqual(DEFAULT_PLANS.map((p) => p.byok), [false, false, true, true, true]);
    assert.equal(by.get('free')!.monthlyPlatformTokens, 100_000);
    assert.equal(by.get('enterprise')!.monthlyPlatformTokens, null);
    assert.deepEqual(by.get('unlimited'), { name: 'unlimited', monthlyPlatformTokens: null, byok: true, rpm: null, tpm: null, concurrency: null });
  });

  test('the config file replaces and adds plans; every problem is listed with the rest of the config', () => {
    const problems: string[] = [];
    const plans = parsePlans([{ name: 'free', monthly_platform_tokens: 10, rpm: 5 }, { name: 'team', monthly_platform_tokens: null, byok: true }], problems);
    assert.deepEqual(problems, []);
    assert.equal(plans.find((p) => p.name === 'free')!.monthlyPlatformTokens, 10);
    assert.equal(plans.find((p) => p.name === 'free')!.byok, false);
    assert.equal(plans.find((p) => p.name === 'team')!.byok, true);
    const dir = mkdtempSync(join(tmpdir(), 'backbone-plans-'));
    writeFileSync(join(dir, 'c.yaml'), 'plans:\n  - { name: Gold, monthly_platform_tokens: 5 }\n  - { name: x, monthly_platform_tokens: -1, rpm: 0 }\n  - { name: x, monthly_platform_tokens: 1 }\n  - { name: y, monthly_platform_tokens: 1, color: red }\n');
    try {
      loadConfig({ BACKBONE_CONFIG: join(dir, 'c.yaml'), PORT: 'nope' }, { cwd: dir, generateSecret: false });
      assert.fail('expected ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      const text = err.problems.join('\n');
      for (const bit of ['PORT', 'plans[0].name', 'plans[1].monthly_platform_tokens', 'plans[1].rpm', 'plans[3]: Unrecognized key', "'x' is declared twice"]) {
        assert.ok(text.includes(bit), `${bit} missing from:\n${text}`);
      }
    }
    const ok = loadConfig({ BACKBONE_REDIS_PREFIX: 'a:b' }, { cwd: dir, generateSecret: false });
    assert.equal(ok.plans.length, DEFAULT_PLANS.length);
    assert.equal(ok.redisPrefix, 'a:b');
  });

  test('an unknown plan is logged once, loudly, and treated as free', () => {
    const logged: string[] = [];
    const book = new PlanBook(DEFAULT_PLANS, { error: (_o, m) => logged.push(m) });
    assert.equal(book.get('gold').name, 'free');
    assert.equal(book.get('gold').name, 'free');
    assert.equal(logged.length, 1);
    assert.match(logged[0]!, /CONFIGURATION PROBLEM.*'gold'/);
  });
});

describe('worst-case estimates', () => {
  const route = (provider: RouteLike['provider'], model: string): RouteLike => ({ provider, requestedModel: model, upstreamModel: model, byok: false });

  test('output is max_tokens (times n), else the most the model can produce', () => {
    const body = { messages: [{ role: 'user', content: 'Hi' }] };
    assert.equal(chatNeed({ ...body, max_tokens: 50, n: 3 })(route('openai', 'gpt-4o')).completionTokens, 150);
    assert.equal(chatNeed({ ...body, max_completion_tokens: 7, max_tokens: 50 })(route('openai', 'gpt-4o')).completionTokens, 7);
    assert.equal(chatNeed(body)(route('openai', 'gpt-4o-mini')).completionTokens, 16_384);
    assert.equal(chatNeed(body)(route('openai', 'o3')).completionTokens, 100_000);
    assert.equal(outputCap(route('anthropic', 'claude-sonnet-4-5'), false), 4096, "the Anthropic translator's default max_tokens");
    assert.equal(outputCap(route('anthropic', 'claude-sonnet-4-5'), true), 4096 + 32_768);
    assert.equal(outputCap(route('ollama', 'llama3.2'), false), 16_384);
  });

  test('prompt tokens: UTF-8 bytes / 4, an image at a fixed count instead of its base64', () => {
    assert.equal(tokensOf('x'.repeat(400)), Math.ceil(402 / 4));
    assert.ok(tokensOf('é'.repeat(100)) >= 50, 'bytes, not characters');
    const image = { type: 'image_url', image_url: { url: `data:image/png;base64,${'A'.repeat(400_000)}` } };
    assert.ok(tokensOf([image]) < 2000);
    assert.equal(embeddingsNeed({ input: [[1, 2, 3], [4, 5]] })(route('openai', 'text-embedding-3-small')).promptTokens, 5);
  });
});

describe('limiter', () => {
  const key = (limits: Partial<Limits> = {}, orgId = 'org_1'): ApiKey => ({
    id: 'key_1', orgId, name: 'k', environment: 'live', prefix: 'sk_live_x', permissions: ['chat'], allowedModels: null, allowedIps: null,
    expiresAt: null, createdAt: 0, createdBy: null, lastUsedAt: null, revokedAt: null, updatedAt: 0, limits: { ...NO_LIMITS, ...limits },
  });
  const event = (over: Partial<UsageEvent> = {}): UsageEvent => ({
    requestId: 'r', orgId: 'org_1', keyId: 'key_1', endpoint: 'chat', model: 'gpt-4o-mini', provider: 'openai', upstreamModel: 'gpt-4o-mini',
    byok: false, stream: false, status: 200, errorCode: null, promptTokens: 12, completionTokens: 5, cachedTokens: 0, cacheWriteTokens: 0,
    reasoningTokens: 0, audioSeconds: null, costUsd: 0.001, latencyMs: 1, ttftMs: null, createdAt: Date.now(), ...over,
  });
  const platform: RouteLike = { provider: 'openai', requestedModel: 'gpt-4o-mini', upstreamModel: 'gpt-4o-mini', byok: false };
  const need = chatNeed({ messages: [], max_tokens: 10 });
  const build = (store: RateLimitStore, over: { plan?: string; queries?: { n: number }; orgLoads?: { n: number } } = {}) => new Limiter({
    store, plans: new PlanBook(DEFAULT_PLANS, { error() {} }), prices: new PriceTable(), log: { warn() {}, error() {} },
    loadOrg: async (id) => { if (over.orgLoads) over.orgLoads.n++; return { id, slug: 's', name: 'n', plan: over.plan ?? 'unlimited', createdAt: 0, limits: NO_LIMITS }; },
    ledger: {
      costSince: async () => { if (over.queries) over.queries.n++; return 0.5; },
      platformTokensSince: async () => { if (over.queries) over.queries.n++; return 99_990; },
    },
  });

  test('the organisation is read once and then served from memory; invalidation reloads it', async () => {
    const orgLoads = { n: 0 };
    const limiter = build(new MemoryRateLimitStore(), { orgLoads });
    await Promise.all(Array.from({ length: 20 }, () => limiter.admit(key()).then((a) => a.finish(null))));
    assert.equal(orgLoads.n, 1);
    limiter.invalidateOrg('org_1');
    (await limiter.admit(key())).finish(null);
    assert.equal(orgLoads.n, 2);
  });

  test('budgets and quotas are seeded from the ledger with one query per scope per process', async () => {
    const queries = { n: 0 };
    const store = new MemoryRateLimitStore();
    const limiter = build(store, { plan: 'free', queries });
    const k = key({ budgetUsd: 1, budgetPeriod: 'day', concurrency: 100 });
    const results = await Promise.allSettled(Array.from({ length: 10 }, async () => {
      const a = await limiter.admit(k);
      try { await a.reserve([platform], need); } finally { a.finish(event()); }
    }));
    assert.equal(queries.n, 2, 'one for the quota, one for the key budget, not one per request');
    for (const r of results) {
      assert.equal(r.status, 'rejected', 'the seeded 99,990 of 100,000 tokens count: 14 more do not fit');
      assert.equal((r as PromiseRejectedResult).reason.code, 'insufficient_quota');
    }
  });

  test('finish is exactly once: a second call neither releases nor settles again', async () => {
    const store = new MemoryRateLimitStore();
    const limiter = build(store);
    const k = key({ concurrency: 1, budgetUsd: 10 });
    const a = await limiter.admit(k);
    await a.reserve([platform], need);
    a.finish(event({ costUsd: 0.25 }));
    a.finish(event({ costUsd: 0.25 }));
    a.finish(null);
    const held = await limiter.admit(k); // the slot is free again, once
    await assert.rejects(limiter.admit(k), (e: any) => e.code === 'rate_limit_exceeded');
    held.finish(null);
    const budget = await store.budget('{org_1}:budget:k:key_1:all:all');
    assert.deepEqual(budget, { spent: 250_000_000 + 500_000_000, reserved: 0 }, 'seeded $0.50 + one settlement of $0.25');
  });

  test('an unreachable counter store lets requests through and settlements are retried', async () => {
    const inner = new MemoryRateLimitStore();
    let down = true;
    const flaky: RateLimitStore = {
      kind: 'memory',
      take: (t) => (down ? Promise.reject(new Error('down')) : inner.take(t)),
      give: (g) => (down ? Promise.reject(new Error('down')) : inner.give(g)),
      seed: (k, s, t) => inner.seed(k, s, t),
      budget: (k) => inner.budget(k),
      close: () => inner.close(),
    };
    const limiter = build(flaky);
    const a = await limiter.admit(key({ rpm: 1 }));
    assert.deepEqual(a.headers, {});
    const b = await limiter.admit(key({ rpm: 1 }));
    b.finish(null);
    down = false;
    const c = await limiter.admit(key({ rpm: 1, budgetUsd: 5 }));
    await c.reserve([platform], need);
    down = true;
    c.finish(event({ costUsd: 1 }));
    await new Promise((r) => setTimeout(r, 30));
    down = false;
    await new Promise((r) => setTimeout(r, 1100));
    assert.deepEqual(await inner.budget('{org_1}:budget:k:key_1:all:all'), { spent: 1.5e9, reserved: 0 }, 'the settlement arrived once the store was back');
    await limiter.close();
  });
});
