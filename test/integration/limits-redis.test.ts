/**
 * Two Backbone instances sharing their limits through Redis (required in CI, skipped with a
 * reason elsewhere): one limit, N admitted in total across both; concurrency, tpm and a budget
 * race across both.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type GatewayFixture } from '../support/gateway.js';
import type { TestApp } from '../support/app.js';
import { dropPrefix, redisSkip, REDIS_TEST_URL, testPrefix } from '../support/redis.js';
import { assertRateLimited, keyWith, testAudit } from '../support/limits.js';

const skip = await redisSkip();
const hi = (extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], ...extra });

describe('limits shared by two instances through Redis', { skip }, () => {
  let g: GatewayFixture;
  let a: TestApp;
  let b: TestApp;
  const prefix = testPrefix();
  before(async () => {
    g = await startGateway({ REDIS_URL: REDIS_TEST_URL, BACKBONE_REDIS_PREFIX: prefix });
    a = g.t;
    b = await g.startPeer();
    assert.equal(a.app.limiter.store.kind, 'redis');
    assert.equal(b.app.limiter.store.kind, 'redis');
  });
  after(async () => { await g?.close(); await dropPrefix(prefix); });

  const chat = (t: TestApp, key: string, body = hi()) => t.call('/api/v1/chat/completions', { key, body });

  test('rpm: a limit of 6 admits exactly 6 of 20 concurrent requests spread over both instances', async () => {
    const { key } = await keyWith(a, { rpm: 6 });
    const all = await Promise.all(Array.from({ length: 20 }, (_, i) => chat(i % 2 ? a : b, key)));
    assert.equal(all.filter((r) => r.status === 200).length, 6);
    for (const r of all.filter((x) => x.status !== 200)) {
      assertRateLimited(r);
      assert.equal(r.headers.get('x-ratelimit-remaining-requests'), '0');
    }
    const seen = all.filter((r) => r.status === 200).map((r) => Number(r.headers.get('x-ratelimit-remaining-requests'))).sort();
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5], 'one window, counted once across both');
    // The organisation's own limit applies over all of its keys, across instances too.
    const org = await a.app.store.orgs.create({ slug: 'shared-rpm', name: 'x', plan: 'unlimited' });
    await a.app.store.orgs.update(org.id, { limits: { rpm: 3 } }, testAudit(org.id));
    const k1 = await keyWith(a, {}, org.id);
    const k2 = await keyWith(a, {}, org.id);
    const mixed = await Promise.all(Array.from({ length: 8 }, (_, i) => chat(i % 2 ? a : b, i % 3 ? k1.key : k2.key)));
    assert.equal(mixed.filter((r) => r.status === 200).length, 3);
  });

  test('concurrency: a slot held on one instance counts on the other', async () => {
    const { key } = await keyWith(a, { concurrency: 1 });
    g.fakes.openai.fault({ type: 'delay', ms: 400 });
    const slow = chat(a, key);
    await new Promise((r) => setTimeout(r, 150));
    const refused = await chat(b, key);
    assertRateLimited(refused);
    assert.equal((await slow).status, 200);
    assert.equal((await chat(b, key)).status, 200, 'released when it ended');
  });

  test('tpm: tokens used through one instance count on the other', async () => {
    const { key } = await keyWith(a, { tpm: 40 });
    assert.equal((await chat(a, key)).status, 200);
    await new Promise((r) => setTimeout(r, 30)); // the settlement is written behind the response
    const second = await chat(b, key);
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('x-ratelimit-remaining-tokens'), '23');
    assert.equal((await chat(a, key)).status, 200);
    await new Promise((r) => setTimeout(r, 30));
    assertRateLimited(await chat(b, key));
  });

  test('budget race over both instances: an organisation budget is never overspent', async () => {
    const org = await a.app.store.orgs.create({ slug: 'race', name: 'Race', plan: 'unlimited' });
    const budget = 0.00002; // four worst cases of ~$0.00000465 (see limits.test.ts)
    await a.app.store.orgs.update(org.id, { limits: { budgetUsd: budget, budgetPeriod: 'day' } }, testAudit(org.id));
    const keys = await Promise.all([keyWith(a, {}, org.id), keyWith(a, {}, org.id)]);
    for (let i = 0; i < 16; i++) g.fakes.openai.fault({ type: 'delay', ms: 200 });
    const all = await Promise.all(Array.from({ length: 16 }, (_, i) => chat(i % 2 ? a : b, keys[i % 2]!.key, hi({ max_tokens: 5 }))));
    g.fakes.openai.clearFaults();
    const ok = all.filter((r) => r.status === 200).length;
    assert.ok(ok >= 1 && ok <= 4, `${ok} served`);
    for (const r of all.filter((x) => x.status !== 200)) assert.equal(r.json.error.code, 'insufficient_quota');
    const spent = g.usage.filter((e) => e.orgId === org.id).reduce((s, e) => s + e.costUsd, 0);
    assert.ok(spent > 0 && spent <= budget, `recorded spend ${spent} within ${budget}`);
    await new Promise((r) => setTimeout(r, 50));
    const state = await b.app.limiter.store.budget(`{${org.id}}:budget:o:day:${new Date().toISOString().slice(0, 10)}`);
    assert.deepEqual(state, { spent: Math.round(spent * 1e9), reserved: 0 }, 'Redis holds exactly what was recorded');
  });
});
