/**
 * Cache invalidation across processes on any store: every key mutation appends to the `changes`
 * feed (in the same transaction), and each process polls the feed for rows past its cursor.
 * This is what makes `backbone keys revoke` (another process) take effect on a running server
 * within one poll interval. Faster buses (Redis pub/sub, PostgreSQL NOTIFY) can sit in front of it.
 */
import type { ChangeRepository, Change } from '../store/changes.js';

export interface ChangeHandler {
  (change: Change): void;
}

export class ChangePoller {
  private cursor = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failing = false;
  private lastPrune = 0;

  constructor(
    private readonly changes: ChangeRepository,
    private readonly onChange: ChangeHandler,
    private readonly intervalMs: number,
    private readonly log: { warn(o: object, m: string): void; info(o: object, m: string): void },
  ) {}

  async start(): Promise<void> {
    this.cursor = await this.changes.latestId();
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
    this.timer.unref();
  }

  /** One poll; safe to call directly (tests) — overlapping calls share the run in progress. */
  poll(): Promise<void> {
    this.running ??= this.pollOnce().finally(() => { this.running = undefined; });
    return this.running;
  }

  private async pollOnce(): Promise<void> {
    try {
      for (;;) {
        const batch = await this.changes.since(this.cursor);
        for (const c of batch) {
          this.onChange(c);
          this.cursor = c.id;
        }
        if (batch.length < 1000) break;
      }
      if (this.failing) this.log.info({}, 'change feed reachable again');
      this.failing = false;
      const now = Date.now();
      if (now - this.lastPrune > 60_000) {
        this.lastPrune = now;
        await this.changes.prune(10 * 60_000, now);
      }
    } catch (err) {
      if (!this.failing) this.log.warn({ err: (err as Error).message }, 'change feed poll failed; caches may be stale until it recovers');
      this.failing = true;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
