/**
 * The usage ledger against an in-memory store that can fail on demand: batching, outages and
 * retries, overflow accounting, isolation of a refused row, shutdown, and upkeep.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageLedger, type LedgerLog, type UsageStore } from '../../src/metering/ledger.js';
import { Fifo } from '../../src/metering/fifo.js';
import type { UsageEvent } from '../../src/metering/usage.js';
import type { PartitionReport } from '../../src/store/usage-partitions.js';
import { usageEvent, waitFor } from '../support/usage-events.js';

class FakeStore implements UsageStore {
  readonly rows = new Map<string, UsageEvent>();
  readonly batches: number[] = [];
  failWith: Error | null = null;
  /** Request ids the store refuses as bad data (PostgreSQL's invalid byte sequence). */
  readonly refuse = new Set<string>();
  partitionReport: PartitionReport = { created: [], failed: [] };
  partitionCalls = 0;
  readonly dropCalls: number[] = [];

  async insertBatch(events: readonly UsageEvent[]): Promise<number> {
    await new Promise((r) => setImmediate(r));
    if (this.failWith) throw this.failWith;
    if (events.some((e) => this.refuse.has(e.requestId))) throw Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' });
    this.batches.push(events.length);
    let n = 0;
    for (const e of events) if (!this.rows.has(e.requestId)) { this.rows.set(e.requestId, e); n++; }
    return n;
  }

  async ensurePartitions(): Promise<PartitionReport> {
    this.partitionCalls++;
    return this.partitionReport;
  }

  async dropBefore(month: number) {
    this.dropCalls.push(month);
    return { droppedPartitions: [], deletedRows: 0 };
  }
}

function capture() {
  const entries: { level: string; obj: object; msg: string }[] = [];
  const log: LedgerLog = {
    error: (obj, msg) => entries.push({ level: 'error', obj, msg }),
    warn: (obj, msg) => entries.push({ level: 'warn', obj, msg }),
    info: (obj, msg) => entries.push({ level: 'info', obj, msg }),
  };
  const count = (level: string, re: RegExp) => entries.filter((e) => e.level === level && re.test(e.msg)).length;
  return { log, entries, count };
}

const outage = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
const events = (n: number, over: Partial<UsageEvent> = {}) => Array.from({ length: n }, () => usageEvent(over));

test('record() only queues; the flusher writes batches of at most batchSize, and a partial batch within the interval', async () => {
  const store = new FakeStore();
  const { log } = capture();
  const ledger = new UsageLedger(store, log, { batchSize: 50, flushIntervalMs: 30 });
  await ledger.start();
  for (const e of events(120)) ledger.record(e);
  assert.equal(store.rows.size, 0, 'nothing is written on the request path');
  assert.equal(ledger.stats().queued, 120);
  await waitFor(() => store.rows.size === 120, 2000, 'the batches');
  assert.ok(store.batches.every((n) => n <= 50), `batches: ${store.batches}`);
  for (const e of events(3)) ledger.record(e);
  await waitFor(() => store.rows.size === 123, 1000, 'the partial batch on the timer');
  assert.deepEqual(ledger.stats(), { queued: 0, written: 123, dropped: 0, failures: 0, lastError: null });
  await ledger.stop();
});

test('a store outage keeps rows queued and retried with back-off; they are written in order, once, when it returns', async () => {
  const store = new FakeStore();
  const { log, count } = capture();
  const ledger = new UsageLedger(store, log, { batchSize: 8, flushIntervalMs: 10, backoffMs: { min: 10, max: 40 } });
  await ledger.start();
  store.failWith = outage();
  const sent = events(30);
  for (const e of sent) ledger.record(e);
  await assert.rejects(ledger.flush(), /ECONNREFUSED/);
  await new Promise((r) => setTimeout(r, 150));
  const during = ledger.stats();
  assert.equal(during.queued, 30, 'nothing is lost during the outage');
  assert.ok(during.failures >= 2, `retried in the background (${during.failures} failures)`);
  assert.match(during.lastError ?? '', /ECONNREFUSED/);
  assert.equal(count('error', /could not be written/), 1, 'the outage is logged at its start, not once per retry');
  store.failWith = null;
  await waitFor(() => ledger.stats().queued === 0, 2000, 'the retry after the outage');
  assert.deepEqual([...store.rows.keys()], sent.map((e) => e.requestId), 'written in the order recorded');
  assert.equal(ledger.stats().written, 30);
  assert.equal(ledger.stats().dropped, 0);
  assert.equal(count('info', /writable again/), 1);
  await ledger.stop();
});

test('overflow drops the oldest rows, counts them, and logs at error level once per episode', async () => {
  const store = new FakeStore();
  const { log, count } = capture();
  const ledger = new UsageLedger(store, log, { queueMax: 100, batchSize: 10, flushIntervalMs: 10_000, backoffMs: { min: 10_000, max: 10_000 } });
  store.failWith = outage();
  const sent = events(250);
  for (const e of sent) ledger.record(e);
  assert.deepEqual({ queued: ledger.stats().queued, dropped: ledger.stats().dropped }, { queued: 100, dropped: 150 });
  await new Promise((r) => setTimeout(r, 20)); // let the scheduled write fail and put its batch back
  assert.deepEqual({ queued: ledger.stats().queued, dropped: ledger.stats().dropped }, { queued: 100, dropped: 150 });
  assert.equal(count('error', /queue full/), 1);
  store.failWith = null;
  await ledger.flush();
  assert.deepEqual([...store.rows.keys()], sent.slice(150).map((e) => e.requestId), 'the newest rows were kept');
  assert.equal(count('warn', /back under its limit/), 1);

  store.failWith = outage();
  for (const e of events(150)) ledger.record(e);
  assert.equal(ledger.stats().dropped, 200);
  assert.equal(count('error', /queue full/), 2, 'a new episode is logged again');
  store.failWith = null;
  await ledger.stop();
  assert.equal(store.rows.size, 200);
  assert.equal(ledger.stats().dropped, 200);
});

test('a row the store refuses is isolated: the rest of its batch is written and the row is counted as dropped', async () => {
  const store = new FakeStore();
  const { log, entries } = capture();
  const ledger = new UsageLedger(store, log, { batchSize: 20, flushIntervalMs: 10_000 });
  const sent = events(20);
  store.refuse.add(sent[7]!.requestId);
  for (const e of sent) ledger.record(e);
  await ledger.flush();
  assert.equal(store.rows.size, 19);
  assert.deepEqual(ledger.stats(), { queued: 0, written: 19, dropped: 1, failures: 0, lastError: null });
  const refusal = entries.find((e) => /refused by the store/.test(e.msg));
  assert.equal((refusal?.obj as { requestId?: string }).requestId, sent[7]!.requestId);
  await ledger.stop();
});

test('stop() writes what is queued; rows it cannot write by the deadline are counted, and so is a late record()', async () => {
  const store = new FakeStore();
  const ok = new UsageLedger(store, capture().log, { flushIntervalMs: 10_000 });
  await ok.start();
  for (const e of events(40)) ok.record(e);
  await ok.stop();
  assert.equal(store.rows.size, 40);
  assert.equal(ok.stats().queued, 0);

  const down = new FakeStore();
  down.failWith = outage();
  const { log, count } = capture();
  const ledger = new UsageLedger(down, log, { stopDeadlineMs: 200, backoffMs: { min: 20, max: 50 } });
  await ledger.start();
  for (const e of events(5)) ledger.record(e);
  const t0 = Date.now();
  await ledger.stop();
  assert.ok(Date.now() - t0 < 2000, 'stop() respects its deadline');
  assert.ok(ledger.stats().failures >= 2, 'kept retrying until the deadline');
  assert.deepEqual({ queued: ledger.stats().queued, dropped: ledger.stats().dropped }, { queued: 0, dropped: 5 });
  assert.equal(count('error', /before shutdown/), 1);
  ledger.record(usageEvent());
  assert.equal(ledger.stats().dropped, 6);
  assert.equal(count('error', /after the ledger stopped/), 1);
});

test('upkeep: partitions are made at start, a failure is logged not thrown; retention removes whole months; 0 keeps all', async () => {
  const store = new FakeStore();
  store.partitionReport = { created: ['usage_events_y2026m06'], failed: [{ name: 'usage_events_y2026m07', error: 'updated partition constraint for default partition would be violated' }] };
  const { log, count } = capture();
  const now = Date.UTC(2026, 5, 15, 12);
  const ledger = new UsageLedger(store, log, { retentionDays: 400, now: () => now });
  await ledger.start();
  assert.equal(store.partitionCalls, 1);
  assert.equal(count('error', /could not create a usage partition/), 1);
  assert.equal(count('info', /partitions created/), 1);
  await waitFor(() => store.dropCalls.length === 1, 1000, 'retention at start');
  assert.equal(store.dropCalls[0], Date.UTC(2025, 4, 1), '400 days before 2026-06-15 is 2025-05-11: months before May 2025 go');
  await ledger.stop();

  const keep = new FakeStore();
  const forever = new UsageLedger(keep, capture().log, { retentionDays: 0 });
  await forever.start();
  await new Promise((r) => setTimeout(r, 20));
  await forever.stop();
  assert.equal(keep.dropCalls.length, 0);
});

test('Fifo: take, drop and put-back keep order across compactions', () => {
  const q = new Fifo<number>();
  const ref: number[] = [];
  let next = 0;
  for (let round = 0; round < 2000; round++) {
    const op = round % 7;
    if (op < 4) for (let i = 0; i < 5; i++) { q.push(next); ref.push(next++); }
    else if (op === 4) { const b = q.take(7); assert.deepEqual(b, ref.splice(0, 7)); if (round % 3 === 0) { q.unshift(b); ref.unshift(...b); } }
    else if (op === 5) { q.drop(3); ref.splice(0, 3); }
    else { assert.equal(q.size, ref.length); }
  }
  assert.deepEqual(q.take(q.size), ref);
  assert.equal(q.size, 0);
});
