/**
 * The counters behind rate limits, budgets and plan quotas, behind one narrow interface with three
 * implementations: `MemoryRateLimitStore` (one process), `RedisRateLimitStore` (shared by every
 * instance, atomic Lua scripts) and `PgRateLimitStore` (shared through PostgreSQL, row-locked PL/pgSQL),
 * the shared ones behind `FailoverRateLimitStore` (per-instance memory while they are unreachable).
 * One contract suite (test/integration/rate-limit-store.test.ts) runs on all three.
 *
 * The operations, as one all-or-nothing batch so a request is admitted against its key's and its
 * organisation's limits at once (a refusal by one scope never consumes another scope's count):
 *
 * - `count`   fixed-window request counting (rpm): admits while `count < limit`, then counts one.
 *             The window starts at the scope's first request and lasts `windowMs`. Exact: N per window.
 * - `level`   token counting per window (tpm), the check before: admits while `used < limit`, changes
 *             nothing; the actual tokens are added afterwards with a `give` of type `add`.
 * - `gauge`   concurrency: admits while fewer than `limit` leases are held, then holds `lease`
 *             (released with `give` `release`; in Redis a lease expires after `ttlMs` so a crashed
 *             instance's slots come back).
 * - `reserve` budgets and quotas: admits only if `spent + reserved + amount <= limit`, then adds
 *             `amount` to `reserved`; `give` `settle` moves it to `spent` as the actual amount.
 *             Amounts are integers (tokens, or nano-USD) so both stores count exactly.
 */

export type Take =
  | { type: 'count'; key: string; limit: number; windowMs: number }
  | { type: 'level'; key: string; limit: number; windowMs: number }
  | { type: 'gauge'; key: string; limit: number; lease: string; ttlMs: number }
  | { type: 'reserve'; key: string; limit: number; amount: number; ttlMs: number | null };

export type Give =
  | { type: 'add'; key: string; amount: number; windowMs: number }
  | { type: 'release'; key: string; lease: string }
  | { type: 'settle'; key: string; reserved: number; actual: number; ttlMs: number | null };

/**
 * What a scope looked like when it was checked: `used` is the count / tokens / leases /
 * spent+reserved including this request when admitted; `resetMs` is the time left in the
 * window (count, level), or 0 when the scope has no window.
 */
export interface ScopeState {
  used: number;
  resetMs: number;
}

export type TakeResult =
  | { ok: true; states: ScopeState[] }
  /** `index` is the first take refused; nothing was applied. */
  | { ok: false; index: number; states: ScopeState[] };

export interface BudgetState {
  spent: number;
  reserved: number;
}

export interface RateLimitStore {
  /** Check every take; apply all of them only if all pass. */
  take(takes: readonly Take[]): Promise<TakeResult>;
  /** Apply releases, settlements and token additions (never refused). */
  give(gives: readonly Give[]): Promise<void>;
  /** Start a budget scope at `spent` unless it exists already (from the usage ledger, once per scope). */
  seed(key: string, spent: number, ttlMs: number | null): Promise<void>;
  /** A budget scope's counters (tests, inspection). */
  budget(key: string): Promise<BudgetState>;
  /** The name shown in logs and the README: `memory`, `redis` or `postgres`. */
  readonly kind: 'memory' | 'redis' | 'postgres';
  close(): Promise<void>;
}
