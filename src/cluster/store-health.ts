/**
 * Whether the store (database) answers, watched by a ping every `intervalMs` and by failed key
 * lookups. While it is unreachable, keys already verified keep working from memory for
 * `graceMs` from the moment it became unreachable; after that every request gets 503
 * `service_unavailable` (a bounded window in which a revocation could not have reached us).
 * Keys never verified get 503 at once — never a misleading 401.
 */
import type { Db } from '../store/db.js';

export interface StoreState {
  reachable: boolean;
  /** When it became unreachable (ms), while it is. */
  down_since: number | null;
  /** Seconds left in which verified keys keep working (null while reachable). */
  grace_left_s: number | null;
  last_error: string | null;
}

export class StoreHealth {
  private downSince: number | null = null;
  private lastError: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<boolean> | undefined;

  constructor(
    private readonly db: Db,
    readonly graceMs: number,
    private readonly log: { warn(o: object, m: string): void; info(o: object, m: string): void },
    private readonly intervalMs = 1000,
    private readonly timeoutMs = 2000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  get reachable(): boolean {
    return this.downSince === null;
  }

  /** True when the store has been unreachable for longer than the grace period. */
  pastGrace(now: number): boolean {
    return this.downSince !== null && now - this.downSince > this.graceMs;
  }

  /** A store call failed (a key lookup): mark it down now rather than at the next ping. */
  failed(err: unknown): void {
    this.down((err as Error)?.message ?? String(err));
  }

  /** Ping now (also what /readyz calls); true when the store answered. */
  check(): Promise<boolean> {
    this.checking ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          this.db.ping(),
          new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs); }),
        ]);
        this.up();
        return true;
      } catch (err) {
        this.down((err as Error).message);
        return false;
      } finally {
        clearTimeout(timer);
      }
    })().finally(() => { this.checking = undefined; });
    return this.checking;
  }

  state(now = Date.now()): StoreState {
    return {
      reachable: this.downSince === null,
      down_since: this.downSince,
      grace_left_s: this.downSince === null ? null : Math.max(0, Math.round((this.downSince + this.graceMs - now) / 1000)),
      last_error: this.lastError,
    };
  }

  private down(message: string): void {
    this.lastError = message;
    if (this.downSince !== null) return;
    this.downSince = Date.now();
    this.log.warn({ err: message, grace_s: Math.round(this.graceMs / 1000) },
      'store unreachable: keys already verified keep working for the grace period, other keys get 503, usage rows are queued');
  }

  private up(): void {
    if (this.downSince === null) return;
    this.log.info({ outage_ms: Date.now() - this.downSince }, 'store reachable again');
    this.downSince = null;
  }
}
