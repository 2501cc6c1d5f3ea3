/**
 * Cache invalidation across processes on any store: every key, provider and organisation mutation
 * appends to the `changes` feed (in the same transaction), and each process reads the feed for rows
 * past its cursor. A notification channel (`InvalidationBus`: Redis pub/sub, PostgreSQL NOTIFY)
 * makes it read at once; while the channel is up the timer is only a safety net
 * (`invalidationSafetyPollMs`), while it is down (or on SQLite) the short poll does the work
 * (`invalidationPollMs`). A channel that drops is logged once, counted, and shown in `/readyz`.
 *
 * PostgreSQL hands out `changes.id` before commit, so a transaction can commit after one with a
 * higher id has been read: ids skipped over are remembered for a minute and read again until they
 * appear (or are known to be rolled back), so such a change is never missed.
 */
import type { ChangeRepository, Change } from '../store/changes.js';
import { PollBus, type BusKind, type InvalidationBus } from './notifier.js';

export interface ChangeHandler {
  (change: Change): void;
}

export interface InvalidationState {
  bus: BusKind;
  /** `push`: the channel is up (read at once on every change); `poll`: reading every `poll_ms`. */
  mode: 'push' | 'poll';
  poll_ms: number;
  /** When the channel went down (ms), while it is down. */
  down_since: number | null;
  /** Times the channel dropped since start. */
  drops: number;
  /** The last read of the feed failed (store unreachable). */
  feed_failing: boolean;
}

const GAP_TTL_MS = 60_000;
const MAX_GAPS = 10_000;

export class ChangePoller {
  private cursor = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private failing = false;
  private lastPrune = 0;
  private started = false;
  private stopped = false;
  /** Ids skipped over (not yet committed when read), with when they were first missed. */
  private readonly gaps = new Map<number, number>();
  private downSince: number | null = null;
  private drops = 0;
  private readonly listeners: ((s: InvalidationState) => void)[] = [];

  constructor(
    private readonly changes: ChangeRepository,
    private readonly onChange: ChangeHandler,
    private readonly intervalMs: number,
    private readonly log: { warn(o: object, m: string): void; info(o: object, m: string): void },
    private readonly bus: InvalidationBus = new PollBus(),
    private readonly safetyIntervalMs = 5000,
  ) {}

  async start(): Promise<void> {
    this.cursor = await this.changes.latestId();
    this.started = true;
    if (this.bus.kind !== 'poll') this.downSince = Date.now(); // until the channel is up
    this.bus.start({
      wake: () => this.wake(),
      health: (up) => {
        if (up) {
          if (this.downSince !== null && this.drops > 0) this.log.info({ bus: this.bus.kind }, 'invalidation channel is back; caches follow changes at once again');
          this.downSince = null;
        } else {
          this.drops++;
          this.downSince = Date.now();
          this.log.warn({ bus: this.bus.kind, poll_ms: this.intervalMs }, `invalidation channel (${this.bus.kind}) dropped; polling the change feed every ${this.intervalMs} ms until it is back`);
        }
        this.emit();
        this.schedule();
      },
    });
    this.schedule();
  }

  /** The channel said "new rows": read now (a read already running is followed by another). */
  wake(): void {
    if (!this.started || this.stopped) return;
    if (this.running) this.again = true;
    else void this.poll();
  }

  /** Tell the other instances (after a local write committed) and read the feed here too. */
  published(): void {
    this.bus.publish();
    this.wake();
  }

  state(): InvalidationState {
    const push = this.bus.up;
    return { bus: this.bus.kind, mode: push ? 'push' : 'poll', poll_ms: push ? this.safetyIntervalMs : this.intervalMs, down_since: this.bus.kind === 'poll' ? null : this.downSince, drops: this.drops, feed_failing: this.failing };
  }

  onState(listener: (s: InvalidationState) => void): void {
    this.listeners.push(listener);
  }

  /** One poll; safe to call directly (tests) — overlapping calls share the run in progress. */
  poll(): Promise<void> {
    this.running ??= (async () => {
      do {
        this.again = false;
        await this.pollOnce();
      } while (this.again && !this.stopped);
    })().finally(() => { this.running = undefined; });
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const ms = this.bus.up ? this.safetyIntervalMs : this.intervalMs;
    this.timer = setTimeout(() => { void this.poll().finally(() => this.schedule()); }, ms);
    this.timer.unref();
  }

  private apply(c: Change): void {
    try {
      this.onChange(c);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, kind: c.kind }, 'change handler failed');
    }
  }

  private async pollOnce(): Promise<void> {
    try {
      if (this.gaps.size) {
        const now = Date.now();
        for (const [id, at] of this.gaps) if (now - at > GAP_TTL_MS) this.gaps.delete(id);
        for (const c of await this.changes.byIds([...this.gaps.keys()])) {
          this.gaps.delete(c.id);
          this.apply(c);
        }
      }
      for (;;) {
        const batch = await this.changes.since(this.cursor);
        for (const c of batch) {
          if (c.id > this.cursor + 1 && c.id - this.cursor - 1 <= MAX_GAPS - this.gaps.size) {
            const at = Date.now();
            for (let id = this.cursor + 1; id < c.id; id++) this.gaps.set(id, at);
          }
          this.apply(c);
          this.cursor = c.id;
        }
        if (batch.length < 1000) break;
      }
      if (this.failing) {
        this.log.info({}, 'change feed reachable again');
        this.failing = false;
        this.emit();
      }
      const now = Date.now();
      if (now - this.lastPrune > 60_000) {
        this.lastPrune = now;
        await this.changes.prune(10 * 60_000, now);
      }
    } catch (err) {
      if (!this.failing) {
        this.log.warn({ err: (err as Error).message }, 'change feed poll failed; caches may be stale until it recovers');
        this.failing = true;
        this.emit();
      }
    }
  }

  private emit(): void {
    const s = this.state();
    for (const l of this.listeners) l(s);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Stop and close the notification channel. */
  async close(): Promise<void> {
    this.stop();
    await this.running;
    await this.bus.close();
  }
}
