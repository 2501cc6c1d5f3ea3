/**
 * A shared `RateLimitStore` (Redis, or PostgreSQL without Redis) with a per-instance fallback.
 *
 * While the shared store answers, every call goes to it. When a call fails (Redis down, a command
 * timing out, the database unreachable), the instance switches to its own `MemoryRateLimitStore`:
 * requests keep flowing with every limit enforced per instance, the switch is logged once and shown
 * in `/readyz` and the metrics, and a probe checks the shared store every `probeMs` to switch back.
 *
 * Settlements go where their admission was made: a concurrency slot or budget reservation taken in
 * the shared store is released/settled there (queued, bounded, while it is away, and written when it
 * returns), one taken locally is settled locally, and what was actually spent during the outage is
 * added to the shared counters when they return, so budgets and quotas remember it.
 */
import type { BudgetState, Give, RateLimitStore, Take, TakeResult } from './store.js';
import { MemoryRateLimitStore } from './memory-store.js';

export interface SharedStore extends RateLimitStore {
  /** Resolves when the store answers now. */
  ping(): Promise<void>;
}

export interface FailoverState {
  /** `redis` or `postgres`. */
  store: RateLimitStore['kind'];
  /** `shared` (every instance counts together) or `local` (this instance only, during an outage). */
  mode: 'shared' | 'local';
  /** When the current mode started (ms), or null when shared since start. */
  since: number | null;
  /** Settlements waiting for the shared store. */
  pending: number;
  /** Times this instance fell back to local counting. */
  fallbacks: number;
}

const MAX_PENDING = 100_000;

export class FailoverRateLimitStore implements RateLimitStore {
  readonly kind: RateLimitStore['kind'];
  private mode: 'shared' | 'local' = 'shared';
  private since: number | null = null;
  private fallbacks = 0;
  /** Slots and reservations held in each store, by `scope|lease` / `scope|amount`. */
  private readonly sharedHeld = new Map<string, number>();
  private readonly localHeld = new Map<string, number>();
  private pending: Give[] = [];
  private probe: NodeJS.Timeout | undefined;
  private probing = false;
  private readonly listeners: ((s: FailoverState) => void)[] = [];

  constructor(
    readonly shared: SharedStore,
    readonly local: RateLimitStore = new MemoryRateLimitStore(),
    private readonly opts: { log: { warn(o: object, m: string): void; info(o: object, m: string): void; error(o: object, m: string): void }; probeMs?: number },
  ) {
    this.kind = shared.kind;
  }

  state(): FailoverState {
    return { store: this.kind, mode: this.mode, since: this.since, pending: this.pending.length, fallbacks: this.fallbacks };
  }

  /** Called on every switch (metrics). */
  onChange(listener: (s: FailoverState) => void): void {
    this.listeners.push(listener);
  }

  async take(takes: readonly Take[]): Promise<TakeResult> {
    if (this.mode === 'shared') {
      try {
        const r = await this.shared.take(takes);
        if (r.ok) hold(this.sharedHeld, takes);
        return r;
      } catch (err) {
        this.toLocal(err);
      }
    }
    const r = await this.local.take(takes);
    if (r.ok) hold(this.localHeld, takes);
    return r;
  }

  async give(gives: readonly Give[]): Promise<void> {
    const toShared: Give[] = [];
    const toLocal: Give[] = [];
    for (const g of gives) {
      if (g.type === 'add') {
        toShared.push(g);
        if (this.mode === 'local') toLocal.push(g);
      } else if (release(this.localHeld, token(g))) {
        toLocal.push(g);
        // What was spent during the outage counts in the shared budget when it returns.
        if (g.type === 'settle' && g.actual > 0) toShared.push({ ...g, reserved: 0 });
      } else {
        release(this.sharedHeld, token(g));
        toShared.push(g);
      }
    }
    if (toLocal.length) await this.local.give(toLocal);
    if (toShared.length === 0) return;
    if (this.mode === 'shared') {
      try {
        await this.shared.give(toShared);
        return;
      } catch (err) {
        this.toLocal(err);
      }
    }
    this.queue(toShared);
  }

  async seed(key: string, spent: number, ttlMs: number | null): Promise<void> {
    // The local counters start from the ledger too, so an outage does not forget what was spent.
    await this.local.seed(key, spent, ttlMs);
    if (this.mode === 'local') return;
    try {
      await this.shared.seed(key, spent, ttlMs);
    } catch (err) {
      this.toLocal(err);
    }
  }

  budget(key: string): Promise<BudgetState> {
    return this.mode === 'shared' ? this.shared.budget(key) : this.local.budget(key);
  }

  /** Switch to local counting now (the shared store did not answer at start, or a call failed). */
  toLocal(err: unknown): void {
    if (this.mode === 'local') return;
    this.mode = 'local';
    this.since = Date.now();
    this.fallbacks++;
    this.opts.log.warn({ store: this.kind, err: (err as Error)?.message ?? String(err) },
      `limit store (${this.kind}) unreachable: rate limits, concurrency, budgets and quotas are enforced per instance until it returns`);
    this.emit();
    this.probe ??= setInterval(() => void this.tryShared(), this.opts.probeMs ?? 1000);
    this.probe.unref();
  }

  /** One probe: when the shared store answers, write what waited for it and share again. */
  async tryShared(): Promise<boolean> {
    if (this.mode === 'shared') return true;
    if (this.probing) return false;
    this.probing = true;
    try {
      await this.shared.ping();
      while (this.pending.length) {
        const batch = this.pending.splice(0, 1000);
        try {
          await this.shared.give(batch);
        } catch (err) {
          this.pending.unshift(...batch);
          throw err;
        }
      }
      this.mode = 'shared';
      const was = this.since;
      this.since = Date.now();
      if (this.probe) clearInterval(this.probe);
      this.probe = undefined;
      this.opts.log.info({ store: this.kind, outage_ms: was ? this.since - was : null }, `limit store (${this.kind}) reachable again: limits are shared across instances again`);
      this.emit();
      return true;
    } catch {
      return false;
    } finally {
      this.probing = false;
    }
  }

  async close(): Promise<void> {
    if (this.probe) clearInterval(this.probe);
    this.probe = undefined;
    if (this.pending.length && this.mode === 'local') await this.tryShared();
    await Promise.allSettled([this.shared.close(), this.local.close()]);
  }

  private queue(gives: Give[]): void {
    if (this.pending.length + gives.length > MAX_PENDING) {
      this.opts.log.error({ dropped: gives.length }, 'settlements for the shared limit store are over the queue bound and were dropped; shared counters may stay high until their window or period ends');
      return;
    }
    this.pending.push(...gives);
  }

  private emit(): void {
    const s = this.state();
    for (const l of this.listeners) l(s);
  }
}

function token(g: Exclude<Give, { type: 'add' }>): string {
  return g.type === 'release' ? `${g.key}|${g.lease}` : `${g.key}|${g.reserved}`;
}

function hold(held: Map<string, number>, takes: readonly Take[]): void {
  for (const t of takes) {
    const k = t.type === 'gauge' ? `${t.key}|${t.lease}` : t.type === 'reserve' ? `${t.key}|${t.amount}` : undefined;
    if (k !== undefined) held.set(k, (held.get(k) ?? 0) + 1);
  }
}

/** Forget one holding of `k`; false when there was none. */
function release(held: Map<string, number>, k: string): boolean {
  const n = held.get(k);
  if (n === undefined) return false;
  if (n <= 1) held.delete(k);
  else held.set(k, n - 1);
  return true;
}
