/**
 * FailoverRateLimitStore with a shared store that can be made to fail: it falls back to local
 * counting at the first failure, sends each settlement to the store its admission was made in,
 * queues settlements for the shared store while it is away (spend made during the outage included),
 * and switches back once the probe answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailoverRateLimitStore, type SharedStore } from '../../src/limits/failover-store.js';
import { MemoryRateLimitStore } from '../../src/limits/memory-store.js';
import type { Give, Take } from '../../src/limits/store.js';

class Flaky extends MemoryRateLimitStore implements SharedStore {
  down = false;
  override readonly kind = 'memory' as const;
  private check(): void { if (this.down) throw new Error('down'); }
  override async take(t: readonly Take[]) { this.check(); return super.take(t); }
  override async give(g: readonly Give[]) { this.check(); return super.give(g); }
  override async seed(k: string, s: number, ttl: number | null) { this.check(); return super.seed(k, s, ttl); }
  async ping(): Promise<void> { this.check(); }
}

const log = () => {
  const lines: string[] = [];
  return { lines, warn: (_o: object, m: string) => lines.push(`warn ${m}`), info: (_o: object, m: string) => lines.push(`info ${m}`), error: (_o: object, m: string) => lines.push(`error ${m}`) };
};

test('falls back on failure, routes settlements by origin, replays to the shared store when it returns', async () => {
  const shared = new Flaky();
  const local = new MemoryRateLimitStore();
  const l = log();
  const s = new FailoverRateLimitStore(shared, local, { log: l, probeMs: 60_000 });
  const gauge = (lease: string): Take => ({ type: 'gauge', key: 'g', limit: 1, lease, ttlMs: 60_000 });
  const reserve: Take = { type: 'reserve', key: 'b', limit: 100, amount: 10, ttlMs: null };

  assert.ok((await s.take([gauge('x'), reserve])).ok, 'admitted in the shared store');
  shared.down = true;
  const r = await s.take([gauge('y'), reserve]);
  assert.ok(r.ok, 'admitted locally: the local gauge is empty');
  assert.equal(s.state().mode, 'local');
  assert.equal(l.lines.filter((x) => x.startsWith('warn')).length, 1);
  assert.equal((await s.take([gauge('z')])).ok, false, 'the local gauge holds y');

  // The local admission settles locally (and its spend waits for the shared store); the shared one waits too.
  await s.give([{ type: 'release', key: 'g', lease: 'y' }, { type: 'settle', key: 'b', reserved: 10, actual: 7, ttlMs: null }]);
  await s.give([{ type: 'release', key: 'g', lease: 'x' }, { type: 'settle', key: 'b', reserved: 10, actual: 4, ttlMs: null }]);
  assert.deepEqual(await local.budget('b'), { spent: 7, reserved: 0 });
  assert.equal(s.state().pending, 3, 'the shared release and settlement, and the local spend');
  assert.ok((await s.take([gauge('w')])).ok, 'the local slot was released');
  await s.give([{ type: 'release', key: 'g', lease: 'w' }]);

  assert.equal(await s.tryShared(), false, 'still down');
  shared.down = false;
  assert.equal(await s.tryShared(), true);
  assert.equal(s.state().mode, 'shared');
  assert.equal(s.state().pending, 0);
  assert.deepEqual(await shared.budget('b'), { spent: 11, reserved: 0 }, 'both requests\' spend, no reservation left');
  assert.ok((await s.take([gauge('v')])).ok, 'the shared slot of x was released on return');
  assert.ok(l.lines.some((x) => /reachable again/.test(x)));
});

test('a shared store down at start: local from the first request, seeds go to both', async () => {
  const shared = new Flaky();
  shared.down = true;
  const s = new FailoverRateLimitStore(shared, new MemoryRateLimitStore(), { log: log(), probeMs: 60_000 });
  await s.seed('q', 90, null);
  assert.equal(s.state().mode, 'local');
  assert.equal((await s.take([{ type: 'reserve', key: 'q', limit: 100, amount: 11, ttlMs: null }])).ok, false, 'the seeded spend counts locally');
  await s.close();
});
