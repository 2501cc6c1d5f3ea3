/**
 * One contract suite for every RateLimitStore: memory always, Redis and PostgreSQL for real
 * (required in CI). On Redis and PostgreSQL, "two instances" are two store objects on two
 * connections (pools) sharing the same counters.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryRateLimitStore } from '../../src/limits/memory-store.js';
import { RedisRateLimitStore } from '../../src/limits/redis-store.js';
import type { RateLimitStore, Take } from '../../src/limits/store.js';
import { dropPrefix, redisSkip, REDIS_TEST_URL, testPrefix } from '../support/redis.js';
import { PgRateLimitStore } from '../../src/limits/pg-store.js';
import { backends } from '../support/backends.js';
import { openStore } from '../../src/store/index.js';

interface Backend {
  name: string;
  skip?: string;
  /** Two handles on the same counters (the same object for memory: one process). */
  open(): Promise<[RateLimitStore, RateLimitStore, () => Promise<void>]>;
}

const redisProblem = await redisSkip();
const pgBackend = (await backends()).find((b) => b.name === 'postgres')!;
const BACKENDS: Backend[] = [
  {
    name: 'memory',
    async open() {
      const s = new MemoryRateLimitStore();
      return [s, s, () => s.close()];
    },
  },
  {
    name: 'redis',
    skip: redisProblem,
    async open() {
      const prefix = testPrefix();
      const a = new RedisRateLimitStore(REDIS_TEST_URL, prefix);
      const b = new RedisRateLimitStore(REDIS_TEST_URL, prefix);
      assert.ok(await a.ready() && await b.ready(), 'Redis connected');
      return [a, b, async () => { await dropPrefix(prefix); await a.close(); await b.close(); }];
    },
  },
  {
    name: 'postgres',
    skip: pgBackend.skip,
    async open() {
      const db = await pgBackend.fresh();
      const s1 = await openStore(db.url);
      const s2 = await openStore(db.url);
      const a = new PgRateLimitStore(s1.db.kysely);
      const b = new PgRateLimitStore(s2.db.kysely);
      return [a, b, async () => { await a.close(); await b.close(); await s1.close(); await s2.close(); await db.drop(); }];
    },
  },
];

let n = 0;
const scope = (what: string) => `{org_test}:${what}:${++n}`;

for (const backend of BACKENDS) {
  describe(`RateLimitStore contract: ${backend.name}`, { skip: backend.skip }, () => {
    let a: RateLimitStore;
    let b: RateLimitStore;
    let close: () => Promise<void>;
    before(async () => { [a, b, close] = await backend.open(); });
    after(async () => { await close?.(); });

    test('count: exactly N of N+k concurrent requests are admitted in a window, across two handles', async () => {
      const key = scope('rpm');
      const take: Take = { type: 'count', key, limit: 10, windowMs: 60_000 };
      const results = await Promise.all(Array.from({ length: 25 }, (_, i) => (i % 2 ? a : b).take([take])));
      assert.equal(results.filter((r) => r.ok).length, 10);
      const used = results.filter((r) => r.ok).map((r) => r.states[0]!.used).sort((x, y) => x - y);
      assert.deepEqual(used, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'each admitted request saw its own count');
      for (const r of results) assert.ok(r.states[0]!.resetMs > 59_000 - 2000 && r.states[0]!.resetMs <= 60_000, `reset ${r.states[0]!.resetMs}`);
      const refused = results.find((r) => !r.ok)!;
      assert.equal(refused.ok ? -1 : refused.index, 0);
    });

    test('count: a new window starts after the last one ends', async () => {
      const take: Take = { type: 'count', key: scope('rpm'), limit: 2, windowMs: 300 };
      assert.ok((await a.take([take])).ok);
      assert.ok((await b.take([take])).ok);
      const refused = await a.take([take]);
      assert.equal(refused.ok, false);
      assert.ok(refused.states[0]!.resetMs <= 300);
      await sleep(refused.states[0]!.resetMs + 30);
      const again = await b.take([take]);
      assert.ok(again.ok);
      assert.equal(again.states[0]!.used, 1);
    });

    test('a batch is all-or-nothing: a refusal by one scope consumes nothing elsewhere', async () => {
      const key = { type: 'count', key: scope('rpm'), limit: 5, windowMs: 60_000 } as const;
      const org = { type: 'count', key: scope('rpm'), limit: 1, windowMs: 60_000 } as const;
      const gauge = { type: 'gauge', key: scope('conc'), limit: 5, lease: 'l1', ttlMs: 60_000 } as const;
      assert.ok((await a.take([key, org])).ok);
      const refused = await a.take([key, { ...gauge, lease: 'l2' }, org]);
      assert.equal(refused.ok, false);
      assert.equal(refused.ok ? -1 : refused.index, 2);
      const alone = await b.take([key, gauge]);
      assert.equal(alone.states[0]!.used, 2, 'the refused batch did not count against the key');
      assert.equal(alone.states[1]!.used, 1, 'nor take a concurrency slot');
    });

    test('level: admits while under the limit, tokens are added afterwards, the window resets', async () => {
      const key = scope('tpm');
      const level: Take = { type: 'level', key, limit: 100, windowMs: 400 };
      const first = await a.take([level]);
      assert.ok(first.ok);
      assert.equal(first.states[0]!.used, 0);
      await b.give([{ type: 'add', key, amount: 60, windowMs: 400 }]);
      assert.equal((await a.take([level])).states[0]!.used, 60, 'a check changes nothing');
      await a.give([{ type: 'add', key, amount: 45, windowMs: 400 }]);
      const over = await b.take([level]);
      assert.equal(over.ok, false);
      assert.equal(over.states[0]!.used, 105);
      await sleep(over.states[0]!.resetMs + 30);
      const fresh = await a.take([level]);
      assert.ok(fresh.ok);
      assert.equal(fresh.states[0]!.used, 0);
    });

    test('gauge: limit concurrent leases; release frees a slot once; leases of a dead holder expire', async () => {
      const key = scope('conc');
      const g = (lease: string, ttlMs = 60_000): Take => ({ type: 'gauge', key, limit: 2, lease, ttlMs });
      const got = await Promise.all(['x1', 'x2', 'x3', 'x4'].map((l, i) => (i % 2 ? a : b).take([g(l)])));
      assert.equal(got.filter((r) => r.ok).length, 2);
      const held = ['x1', 'x2', 'x3', 'x4'].filter((_, i) => got[i]!.ok);
      await a.give([{ type: 'release', key, lease: held[0]! }]);
      await b.give([{ type: 'release', key, lease: held[0]! }]); // twice: still one slot
      assert.ok((await a.take([g('y1')])).ok);
      assert.equal((await b.take([g('y2')])).ok, false, 'a double release does not free two slots');

      const crashed = scope('conc');
      const short = (lease: string): Take => ({ type: 'gauge', key: crashed, limit: 1, lease, ttlMs: 250 });
      assert.ok((await a.take([short('dead')])).ok);
      assert.equal((await b.take([short('live')])).ok, false);
      await sleep(320);
      assert.ok((await b.take([short('live')])).ok, 'the lease of an instance that never released it expired');
    });

    test('reserve: concurrent reservations never exceed the limit; settle moves reserved to spent', async () => {
      const key = scope('budget');
      const r: Take = { type: 'reserve', key, limit: 100, amount: 30, ttlMs: 60_000 };
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).take([r])));
      assert.equal(results.filter((x) => x.ok).length, 3, '3 x 30 fit in 100, a 4th does not');
      assert.deepEqual(await a.budget(key), { spent: 0, reserved: 90 });
      await b.give([1, 2, 3].map(() => ({ type: 'settle' as const, key, reserved: 30, actual: 20, ttlMs: 60_000 })));
      assert.deepEqual(await a.budget(key), { spent: 60, reserved: 0 });
      assert.ok((await a.take([r])).ok, '60 + 30 <= 100');
      const refused = await b.take([r]);
      assert.equal(refused.ok, false);
      assert.equal(refused.states[0]!.used, 90);
      assert.ok((await a.take([{ ...r, amount: 10 }])).ok, 'exactly at the limit is allowed');
      assert.equal((await a.take([{ ...r, amount: 1 }])).ok, false);
    });

    test('reserve: integer amounts stay exact at nano-USD scale; reserved never goes negative', async () => {
      const key = scope('budget');
      const limit = 5_000_000_000_000; // $5,000 in nano-USD
      const amount = 1_234_567_891_011;
      assert.ok((await a.take([{ type: 'reserve', key, limit, amount, ttlMs: null }])).ok);
      await b.give([{ type: 'settle', key, reserved: amount, actual: amount - 1, ttlMs: null }]);
      assert.deepEqual(await a.budget(key), { spent: amount - 1, reserved: 0 });
      await a.give([{ type: 'settle', key, reserved: 999, actual: 0, ttlMs: null }]);
      assert.deepEqual(await b.budget(key), { spent: amount - 1, reserved: 0 });
      const left = limit - (amount - 1);
      assert.ok((await b.take([{ type: 'reserve', key, limit, amount: left, ttlMs: null }])).ok);
      assert.equal((await a.take([{ type: 'reserve', key, limit, amount: 1, ttlMs: null }])).ok, false);
    });

    test('seed: starts a scope once; later seeds and an existing scope are left alone', async () => {
      const key = scope('quota');
      await a.seed(key, 70, 60_000);
      await b.seed(key, 5, 60_000);
      assert.deepEqual(await a.budget(key), { spent: 70, reserved: 0 });
      assert.equal((await b.take([{ type: 'reserve', key, limit: 100, amount: 31, ttlMs: 60_000 }])).ok, false, 'the seeded spend counts');
      assert.ok((await b.take([{ type: 'reserve', key, limit: 100, amount: 30, ttlMs: 60_000 }])).ok);
      const used = scope('quota');
      await a.take([{ type: 'reserve', key: used, limit: 100, amount: 10, ttlMs: 60_000 }]);
      await b.seed(used, 50, 60_000);
      assert.deepEqual(await a.budget(used), { spent: 0, reserved: 10 }, 'no seed over a live scope');
    });

    test('a period counter ends with its TTL', async () => {
      const key = scope('budget');
      assert.ok((await a.take([{ type: 'reserve', key, limit: 10, amount: 10, ttlMs: 250 }])).ok);
      assert.equal((await b.take([{ type: 'reserve', key, limit: 10, amount: 1, ttlMs: 250 }])).ok, false);
      await sleep(320);
      assert.ok((await b.take([{ type: 'reserve', key, limit: 10, amount: 10, ttlMs: 250 }])).ok, 'a new period starts from zero');
    });
  });
}
