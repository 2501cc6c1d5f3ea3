/**
 * `RateLimitStore` in this process's memory. Exact on one process (Node runs each batch to the
 * end before the next one starts), but per process: instances each allow the full limit, and every
 * counter starts from zero on restart (budgets and quotas are seeded from the usage ledger on first
 * use, see ledger-seed.ts). The workers of one `serve --workers N` share one of these in their
 * primary (cluster/ipc.ts); several instances share Redis (redis-store.ts) or PostgreSQL (pg-store.ts).
 */
import type { BudgetState, Give, RateLimitStore, ScopeState, Take, TakeResult } from './store.js';

interface Window { start: number; used: number; windowMs: number }
interface Budget { spent: number; reserved: number; expiresAt: number | null }

const SWEEP_EVERY_MS = 10_000;

export class MemoryRateLimitStore implements RateLimitStore {
  readonly kind = 'memory' as const;
  private readonly windows = new Map<string, Window>();
  /** Leases by scope, each with its expiry (the same safety net as in Redis). */
  private readonly gauges = new Map<string, Map<string, number>>();
  private readonly budgets = new Map<string, Budget>();
  private nextSweep = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async take(takes: readonly Take[]): Promise<TakeResult> {
    const now = this.now();
    this.sweep(now);
    const states: ScopeState[] = [];
    let refused = -1;
    for (const [i, t] of takes.entries()) {
      const s = this.state(t, now);
      const ok = t.type === 'reserve' ? s.used + t.amount <= t.limit : s.used < t.limit;
      states.push(s);
      if (!ok && refused < 0) refused = i;
    }
    if (refused >= 0) return { ok: false, index: refused, states };
    for (const [i, t] of takes.entries()) {
      const s = states[i]!;
      switch (t.type) {
        case 'count': {
          const w = this.window(t.key, t.windowMs, now);
          w.used++;
          states[i] = { used: w.used, resetMs: w.start + w.windowMs - now };
          break;
        }
        case 'gauge': {
          let leases = this.gauges.get(t.key);
          if (!leases) this.gauges.set(t.key, (leases = new Map()));
          leases.set(t.lease, now + t.ttlMs);
          states[i] = { used: leases.size, resetMs: 0 };
          break;
        }
        case 'reserve': {
          const b = this.budgetOf(t.key, t.ttlMs, now);
          b.reserved += t.amount;
          states[i] = { used: b.spent + b.reserved, resetMs: 0 };
          break;
        }
        case 'level':
          states[i] = s;
          break;
      }
    }
    return { ok: true, states };
  }

  async give(gives: readonly Give[]): Promise<void> {
    const now = this.now();
    for (const g of gives) {
      if (g.type === 'add') {
        this.window(g.key, g.windowMs, now).used += g.amount;
      } else if (g.type === 'release') {
        const leases = this.gauges.get(g.key);
        leases?.delete(g.lease);
        if (leases?.size === 0) this.gauges.delete(g.key);
      } else {
        const b = this.budgetOf(g.key, g.ttlMs, now);
        b.reserved = Math.max(0, b.reserved - g.reserved);
        b.spent += g.actual;
      }
    }
  }

  async seed(key: string, spent: number, ttlMs: number | null): Promise<void> {
    const live = this.budgets.get(key);
    if (live && (live.expiresAt === null || live.expiresAt > this.now())) return;
    this.budgets.set(key, { spent, reserved: 0, expiresAt: ttlMs === null ? null : this.now() + ttlMs });
  }

  async budget(key: string): Promise<BudgetState> {
    const b = this.budgets.get(key);
    return b && (b.expiresAt === null || b.expiresAt > this.now()) ? { spent: b.spent, reserved: b.reserved } : { spent: 0, reserved: 0 };
  }

  async close(): Promise<void> {}

  /** A scope as it is now, before this request. */
  private state(t: Take, now: number): ScopeState {
    if (t.type === 'count' || t.type === 'level') {
      const w = this.windows.get(t.key);
      return w && now < w.start + w.windowMs ? { used: w.used, resetMs: w.start + w.windowMs - now } : { used: 0, resetMs: t.windowMs };
    }
    if (t.type === 'gauge') {
      const leases = this.gauges.get(t.key);
      if (leases) for (const [lease, expiresAt] of leases) if (expiresAt <= now) leases.delete(lease);
      return { used: leases?.size ?? 0, resetMs: 0 };
    }
    const b = this.budgets.get(t.key);
    return b && (b.expiresAt === null || b.expiresAt > now) ? { used: b.spent + b.reserved, resetMs: 0 } : { used: 0, resetMs: 0 };
  }

  /** The live window of a scope; a new one starts at the first use after the last one ended. */
  private window(key: string, windowMs: number, now: number): Window {
    let w = this.windows.get(key);
    if (!w || now >= w.start + w.windowMs) this.windows.set(key, (w = { start: now, used: 0, windowMs }));
    return w;
  }

  private budgetOf(key: string, ttlMs: number | null, now: number): Budget {
    let b = this.budgets.get(key);
    if (!b || (b.expiresAt !== null && b.expiresAt <= now)) {
      this.budgets.set(key, (b = { spent: 0, reserved: 0, expiresAt: ttlMs === null ? null : now + ttlMs }));
    }
    return b;
  }

  /** Drop ended windows and budget periods now and then, so memory follows the live scopes only. */
  private sweep(now: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + SWEEP_EVERY_MS;
    for (const [k, w] of this.windows) if (now >= w.start + w.windowMs) this.windows.delete(k);
    for (const [k, b] of this.budgets) if (b.expiresAt !== null && b.expiresAt <= now) this.budgets.delete(k);
    for (const [k, leases] of this.gauges) {
      for (const [lease, expiresAt] of leases) if (expiresAt <= now) leases.delete(lease);
      if (leases.size === 0) this.gauges.delete(k);
    }
  }
}
