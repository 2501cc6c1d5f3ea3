/**
 * The usage ledger: the gateway's `UsageSink`, written behind in batches so no request waits on
 * the store, and built so no row is lost quietly:
 * - `record()` only appends to an in-memory queue; it never blocks and never throws.
 * - A flusher writes batches (up to `batchSize` rows, at least every `flushIntervalMs`) with an
 *   idempotent INSERT, so retrying a batch after a partial failure cannot duplicate rows.
 * - When the store fails, the batch goes back to the front of the queue and is retried with
 *   capped, jittered back-off; a row the store refuses outright is isolated instead of blocking.
 * - The queue is bounded: on overflow the oldest rows are dropped, counted, and logged at error
 *   level once per episode; `stats()` (and `/readyz`) report it.
 * - `stop()` (after the HTTP server has finished its requests) writes everything, with a deadline.
 * It also runs the table's upkeep (upkeep.ts): partitions made ahead, daily retention.
 */
import type { UsageEvent, UsageSink } from './usage.js';
import { Fifo } from './fifo.js';
import { isRowError } from '../store/usage-events.js';
import { UsageUpkeep, type UpkeepLog, type UpkeepStore } from './upkeep.js';

/** What the ledger needs from the store: the usage repository (a fake in unit tests). */
export interface UsageStore extends UpkeepStore {
  insertBatch(events: readonly UsageEvent[]): Promise<number>;
}

export type LedgerLog = UpkeepLog;

export interface UsageLedgerOptions {
  /** Rows that may wait in memory (plus one batch in flight); the oldest go first beyond it. */
  queueMax?: number;
  batchSize?: number;
  flushIntervalMs?: number;
  /** Days of usage kept; 0 keeps everything. */
  retentionDays?: number;
  /** Back-off after a failed write: doubles from `min` up to `max`. */
  backoffMs?: { min: number; max: number };
  /** How long `stop()` keeps trying to write what is queued. */
  stopDeadlineMs?: number;
  /** How often partitions are checked (retention runs at most once a day). */
  upkeepIntervalMs?: number;
  /** Whether an error means the store refused the rows themselves (default: the SQL classifier). */
  isRowError?: (err: unknown) => boolean;
  now?: () => number;
}

export interface LedgerStats {
  /** Rows waiting (including a batch being written). */
  queued: number;
  /** Rows confirmed in the store. */
  written: number;
  /** Rows lost: queue overflow, refused by the store, or still queued at the shutdown deadline. */
  dropped: number;
  /** Failed batch writes (each retried). */
  failures: number;
  lastError: string | null;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `p`, or `fallback` after `ms`, whichever comes first; the timer never outlives the wait. */
async function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<T>((resolve) => { timer = setTimeout(() => resolve(fallback), Math.max(0, ms)); })]);
  } finally {
    clearTimeout(timer);
  }
}

export class UsageLedger implements UsageSink {
  private readonly queue = new Fifo<UsageEvent>();
  private readonly queueMax: number;
  private readonly batchSize: number;
  private readonly opts: Required<Omit<UsageLedgerOptions, 'queueMax' | 'batchSize'>>;
  private inflight = 0;
  private written = 0;
  private dropped = 0;
  private failures = 0;
  private lastError: string | null = null;
  /** Rows ever queued / ever taken off the front (written, dropped or in flight): flush() targets. */
  private pushed = 0;
  private removed = 0;
  private consecutiveFailures = 0;
  private retryAt = 0;
  private overflowDropped = 0;
  private overflowing = false;
  /** One write at a time: background batches and flush() queue up on this chain. */
  private lock: Promise<unknown> = Promise.resolve();
  private pumping = false;
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly upkeep: UsageUpkeep;
  private stopping: Promise<void> | undefined;
  private stopped = false;
  private lateLogged = false;

  constructor(private readonly store: UsageStore, private readonly log: LedgerLog, options: UsageLedgerOptions = {}) {
    this.queueMax = Math.max(1, options.queueMax ?? 100_000);
    this.batchSize = Math.max(1, Math.min(options.batchSize ?? 500, this.queueMax));
    this.opts = {
      flushIntervalMs: options.flushIntervalMs ?? 500,
      retentionDays: options.retentionDays ?? 400,
      backoffMs: options.backoffMs ?? { min: 250, max: 15_000 },
      stopDeadlineMs: options.stopDeadlineMs ?? 10_000,
      upkeepIntervalMs: options.upkeepIntervalMs ?? 3_600_000,
      isRowError: options.isRowError ?? isRowError,
      now: options.now ?? Date.now,
    };
    this.upkeep = new UsageUpkeep(store, log, { retentionDays: this.opts.retentionDays, intervalMs: this.opts.upkeepIntervalMs, now: this.opts.now });
  }

  record(event: UsageEvent): void {
    if (this.stopped) {
      // Nothing will write it any more: count it rather than lose it quietly.
      this.dropped++;
      if (!this.lateLogged) this.log.error({ requestId: event.requestId }, 'usage recorded after the ledger stopped; row dropped');
      this.lateLogged = true;
      return;
    }
    this.queue.push(event);
    this.pushed++;
    if (this.queue.size > this.queueMax) this.overflow();
    if (this.queue.size >= this.batchSize) this.schedule();
  }

  stats(): LedgerStats {
    return { queued: this.queue.size + this.inflight, written: this.written, dropped: this.dropped, failures: this.failures, lastError: this.lastError };
  }

  /** Start the flusher and make partitions ahead (awaited, so they exist before the first request). */
  async start(): Promise<void> {
    if (this.timer || this.stopping) return;
    this.timer = setInterval(() => void this.pump(), this.opts.flushIntervalMs);
    this.timer.unref();
    await this.upkeep.start();
  }

  /**
   * Write everything queued when called, now, ignoring back-off. Rejects with the store's error
   * when a write fails (the rows stay queued for the next attempt).
   */
  async flush(): Promise<void> {
    const target = this.pushed;
    for (;;) {
      await this.idle();
      const n = Math.min(this.batchSize, target - this.removed);
      if (n <= 0 || this.queue.size === 0) return;
      await this.exclusive(() => this.writeBatch(n));
    }
  }

  /** Stop the timers and write what is queued, trying until the deadline; then count what is left. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.timer);
      const deadline = this.opts.now() + this.opts.stopDeadlineMs;
      await within(this.upkeep.stop(), this.opts.stopDeadlineMs, undefined);
      while (this.stats().queued > 0) {
        const left = deadline - this.opts.now();
        if (left <= 0) break;
        const ok = await within(this.flush().then(() => true, () => false), left, false);
        if (!ok) await sleep(Math.min(this.backoff(), Math.max(0, deadline - this.opts.now())));
      }
      await within(this.idle(), deadline - this.opts.now(), undefined);
      this.stopped = true;
      const lost = this.stats().queued;
      if (lost > 0) {
        this.queue.drop(lost);
        this.dropped += lost;
        this.log.error({ lost, lastError: this.lastError }, 'usage rows could not be written before shutdown; they are lost');
      }
      if (this.dropped > 0) this.log.error({ ...this.stats() }, 'usage rows were dropped during this run');
    })();
    return this.stopping;
  }

  // --- writing ---------------------------------------------------------------------------------

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Not inline: record() runs on the request path and must stay O(1).
    setImmediate(() => { this.scheduled = false; void this.pump(); });
  }

  /** The background flusher: full batches back to back, then what is left on the next tick. */
  private async pump(): Promise<void> {
    if (this.pumping || this.stopping || this.opts.now() < this.retryAt) return;
    this.pumping = true;
    try {
      while (this.queue.size > 0) {
        const ok = await this.exclusive(() => this.writeBatch(this.batchSize)).then(() => true, () => false);
        if (!ok || this.queue.size < this.batchSize) break;
      }
    } finally {
      this.pumping = false;
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => {});
    return run;
  }

  /** Resolves once no write is running or waiting. */
  private async idle(): Promise<void> {
    let seen: Promise<unknown>;
    do {
      seen = this.lock;
      await seen;
    } while (seen !== this.lock);
  }

  private async writeBatch(max: number): Promise<void> {
    const batch = this.queue.take(Math.min(max, this.batchSize));
    if (batch.length === 0) return;
    this.removed += batch.length;
    this.inflight = batch.length;
    const refused = new Set<UsageEvent>();
    try {
      await this.insert(batch, refused);
    } catch (err) {
      const back = refused.size ? batch.filter((e) => !refused.has(e)) : batch;
      this.queue.unshift(back);
      this.removed -= back.length;
      this.onFailure(err);
      if (this.queue.size > this.queueMax) this.overflow();
      throw err;
    } finally {
      this.inflight = 0;
    }
    this.written += batch.length - refused.size;
    if (this.consecutiveFailures > 0) {
      this.log.info({ failures: this.consecutiveFailures, queued: this.stats().queued }, 'usage store writable again; writing the queued rows');
      this.consecutiveFailures = 0;
      this.retryAt = 0;
    }
    if (this.overflowing && this.queue.size <= this.queueMax / 2) {
      this.overflowing = false;
      this.log.warn({ dropped: this.overflowDropped, totalDropped: this.dropped }, 'usage queue back under its limit');
      this.overflowDropped = 0;
    }
  }

  /** One INSERT; if the store refuses a row itself, write row by row so only that row is lost. */
  private async insert(batch: UsageEvent[], refused: Set<UsageEvent>): Promise<void> {
    try {
      await this.store.insertBatch(batch);
      return;
    } catch (err) {
      if (!this.opts.isRowError(err)) throw err;
    }
    for (const e of batch) {
      try {
        await this.store.insertBatch([e]);
      } catch (err) {
        if (!this.opts.isRowError(err)) throw err; // the store went away midway: retry the rest (idempotent)
        refused.add(e);
        this.dropped++;
        this.log.error({ requestId: e.requestId, orgId: e.orgId, keyId: e.keyId, err: (err as Error).message }, 'usage row refused by the store; dropped');
      }
    }
  }

  private onFailure(err: unknown): void {
    this.failures++;
    this.consecutiveFailures++;
    this.lastError = (err as Error)?.message ?? String(err);
    const wait = this.backoff();
    this.retryAt = this.opts.now() + wait;
    // Log the start of an outage loudly, then only every tenth failure.
    if (this.consecutiveFailures === 1 || this.consecutiveFailures % 10 === 0) {
      this.log.error({ err: this.lastError, failures: this.consecutiveFailures, queued: this.stats().queued, retryInMs: wait },
        'usage rows could not be written; they stay queued and are retried');
    }
  }

  /** Capped exponential back-off with jitter (50-100%), so instances do not retry in lockstep. */
  private backoff(): number {
    const { min, max } = this.opts.backoffMs;
    const base = Math.min(max, min * 2 ** Math.min(30, Math.max(0, this.consecutiveFailures - 1)));
    return Math.round(base / 2 + Math.random() * (base / 2));
  }

  private overflow(): void {
    const over = this.queue.size - this.queueMax;
    this.queue.drop(over);
    this.removed += over;
    this.dropped += over;
    this.overflowDropped += over;
    if (!this.overflowing) {
      this.overflowing = true;
      this.log.error({ queueMax: this.queueMax, totalDropped: this.dropped, lastError: this.lastError },
        'usage queue full: dropping the oldest usage rows until the store catches up');
    }
  }
}
