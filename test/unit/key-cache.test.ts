import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyCache, type CachedKey } from '../../src/keys/cache.js';
import { LastUsedTracker } from '../../src/keys/last-used.js';
import { compileAllowList, isIpOrCidr } from '../../src/keys/ip-allow-list.js';
import { MemoryFailureLimiter } from '../../src/limits/auth-failures.js';
import { NO_LIMITS } from '../../src/limits/types.js';

const entry = (id: string): CachedKey => ({
  key: { id, orgId: 'o', name: 'n', environment: 'live', prefix: 'sk_live_x', permissions: [], allowedModels: null, allowedIps: null, expiresAt: null, createdAt: 0, createdBy: null, lastUsedAt: null, revokedAt: null, updatedAt: 0, limits: NO_LIMITS },
  secretExpiresAt: null, ipCheck: null,
});

test('invalidateKey drops every secret of the key (a rotated key has two)', () => {
  const c = new KeyCache({ max: 100 });
  c.set('h1', entry('k1'), c.currentEpoch());
  c.set('h2', entry('k1'), c.currentEpoch());
  c.set('h3', entry('k2'), c.currentEpoch());
  c.invalidateKey('k1');
  assert.equal(c.get('h1'), undefined);
  assert.equal(c.get('h2'), undefined);
  assert.ok(c.get('h3'));
});

test('a lookup that started before an invalidation does not re-insert stale data', () => {
  const c = new KeyCache({ max: 100 });
  const epoch = c.currentEpoch();
  c.invalidateKey('k1'); // the key was revoked while the lookup was in flight
  c.set('h1', entry('k1'), epoch);
  assert.equal(c.get('h1'), undefined);
  c.setMissing('h9', epoch);
  assert.equal(c.get('h9'), undefined);
});

test('the cache is bounded and negative entries are kept apart', () => {
  const c = new KeyCache({ max: 100 });
  for (let i = 0; i < 1000; i++) c.set(`h${i}`, entry(`k${i}`), c.currentEpoch());
  assert.equal(c.size, 100);
  c.set('hot', entry('hot'), c.currentEpoch());
  for (let i = 0; i < 10_000; i++) c.setMissing(`miss${i}`, c.currentEpoch());
  assert.ok(c.get('hot'), 'a flood of unknown keys does not evict hot keys');
  assert.equal(c.get('miss9999'), null);
});

test('last-used times are flushed in one batch, kept on failure, flushed on stop', async () => {
  const batches: Map<string, number>[] = [];
  let fail = true;
  const t = new LastUsedTracker({ touchLastUsed: async (m) => { if (fail) throw new Error('down'); batches.push(new Map(m)); } }, 60_000);
  t.touch('a', 1); t.touch('a', 2); t.touch('b', 3);
  await t.flush();
  assert.equal(batches.length, 0);
  fail = false;
  t.touch('a', 5);
  await t.stop();
  assert.deepEqual([...batches[0]!.entries()].sort(), [['a', 5], ['b', 3]]);
});

test('IP allow-lists: addresses, CIDRs, IPv6, IPv4-mapped IPv6', () => {
  assert.ok(isIpOrCidr('10.0.0.0/8') && isIpOrCidr('::1') && isIpOrCidr('2001:db8::/32') && isIpOrCidr('1.2.3.4'));
  for (const bad of ['10.0.0.0/33', 'abc', '1.2.3.4/', '1.2.3.4/8/8', '::1/129', '']) assert.ok(!isIpOrCidr(bad), bad);
  const allow = compileAllowList(['10.0.0.0/8', '2001:db8::/32', '192.168.1.7']);
  assert.ok(allow('10.1.2.3') && allow('::ffff:10.9.9.9') && allow('2001:db8::1') && allow('192.168.1.7'));
  assert.ok(!allow('11.0.0.1') && !allow('192.168.1.8') && !allow('::1') && !allow('garbage'));
});

test('failure limiter blocks an address after the limit, until the window ends', () => {
  const f = new MemoryFailureLimiter(3, 10_000);
  for (let i = 0; i < 3; i++) { assert.equal(f.blockedFor('1.1.1.1', 1000), 0); f.recordFailure('1.1.1.1', 1000); }
  assert.equal(f.blockedFor('1.1.1.1', 2000), 9);
  assert.equal(f.blockedFor('2.2.2.2', 2000), 0);
  assert.equal(f.blockedFor('1.1.1.1', 11_001), 0);
});
