/**
 * `RateLimitStore` in PostgreSQL, for several instances sharing PostgreSQL without Redis. Each
 * batch is one call of a PL/pgSQL function (migration 005) that locks the batch's counter rows in
 * key order (`SELECT ... FOR UPDATE`), checks every scope and applies all of them or none: the same
 * all-or-nothing contract as the Redis Lua scripts, in one round trip, with the database's clock.
 * Concurrency slots are rows of `rate_limit_leases` with an expiry (a crashed instance's slots come
 * back), serialised by their scope's counter row. Ended windows and periods are swept now and then.
 *
 * It costs one write transaction per admitted request that has limits, so Redis remains the
 * faster choice for busy deployments; this store makes the limits right without it.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { BudgetState, Give, RateLimitStore, ScopeState, Take, TakeResult } from './store.js';

const SWEEP_EVERY_MS = 60_000;
/** Keep ended rows a little while, for requests still settling. */
const SWEEP_GRACE_MS = 60_000;

const int = (n: number): string => String(Math.round(n));

export class PgRateLimitStore implements RateLimitStore {
  readonly kind = 'postgres' as const;
  private nextSweep = 0;
  private sweeping: Promise<void> | undefined;

  constructor(private readonly db: Kysely<Database>) {}

  async take(takes: readonly Take[]): Promise<TakeResult> {
    const keys: string[] = [];
    const types: string[] = [];
    const limits: string[] = [];
    const a: (string | null)[] = [];
    const b: (string | null)[] = [];
    const leases: (string | null)[] = [];
    for (const t of takes) {
      keys.push(t.key);
      limits.push(int(t.limit));
      if (t.type === 'count' || t.type === 'level') { types.push(t.type === 'count' ? 'c' : 'l'); a.push(int(t.windowMs)); b.push(null); leases.push(null); }
      else if (t.type === 'gauge') { types.push('g'); a.push(null); b.push(int(t.ttlMs)); leases.push(t.lease); }
      else { types.push('r'); a.push(int(t.amount)); b.push(t.ttlMs === null ? null : int(Math.ceil(t.ttlMs))); leases.push(null); }
    }
    const { rows } = await sql<{ out: (string | number)[] }>`select rate_limit_take(${keys}::text[], ${types}::text[], ${limits}::bigint[], ${a}::bigint[], ${b}::bigint[], ${leases}::text[]) as out`.execute(this.db);
    this.maybeSweep();
    const out = rows[0]!.out.map(Number);
    const n = takes.length;
    // The function reads the clock before it waits for a scope's row lock, so a window that a
    // concurrent transaction started after that read can look up to a few ms longer: cap it.
    const states: ScopeState[] = takes.map((t, i) => ({
      used: out[1 + i]!,
      resetMs: Math.min(t.type === 'count' || t.type === 'level' ? t.windowMs : Infinity, Math.max(0, out[1 + n + i]!)),
    }));
    const refused = out[0]!;
    return refused === 0 ? { ok: true, states } : { ok: false, index: refused - 1, states };
  }

  async give(gives: readonly Give[]): Promise<void> {
    if (gives.length === 0) return;
    const keys: string[] = [];
    const types: string[] = [];
    const a: (string | null)[] = [];
    const b: (string | null)[] = [];
    const c: (string | null)[] = [];
    const leases: (string | null)[] = [];
    for (const g of gives) {
      keys.push(g.key);
      if (g.type === 'add') { types.push('a'); a.push(int(g.amount)); b.push(int(g.windowMs)); c.push(null); leases.push(null); }
      else if (g.type === 'release') { types.push('x'); a.push(null); b.push(null); c.push(null); leases.push(g.lease); }
      else { types.push('s'); a.push(int(g.reserved)); b.push(int(g.actual)); c.push(g.ttlMs === null ? null : int(Math.ceil(g.ttlMs))); leases.push(null); }
    }
    await sql`select rate_limit_give(${keys}::text[], ${types}::text[], ${a}::bigint[], ${b}::bigint[], ${c}::bigint[], ${leases}::text[])`.execute(this.db);
  }

  async seed(key: string, spent: number, ttlMs: number | null): Promise<void> {
    const ttl = ttlMs === null ? null : int(Math.ceil(ttlMs));
    // Only a missing or ended scope is (re)started; a live one is left alone.
    await sql`
      insert into rate_limit_counters as c (key, value, reserved, expires_at)
      values (${key}, ${int(spent)}, 0, case when ${ttl}::bigint is null then null else (extract(epoch from clock_timestamp()) * 1000)::bigint + ${ttl}::bigint end)
      on conflict (key) do update set value = excluded.value, reserved = 0, expires_at = excluded.expires_at
      where c.expires_at is not null and c.expires_at <= (extract(epoch from clock_timestamp()) * 1000)::bigint`.execute(this.db);
  }

  async budget(key: string): Promise<BudgetState> {
    const { rows } = await sql<{ value: number; reserved: number }>`
      select value, reserved from rate_limit_counters
      where key = ${key} and (expires_at is null or expires_at > (extract(epoch from clock_timestamp()) * 1000)::bigint)`.execute(this.db);
    const r = rows[0];
    return r ? { spent: Number(r.value), reserved: Number(r.reserved) } : { spent: 0, reserved: 0 };
  }

  /** Cheap reachability check (used by the fail-over wrapper's probe). */
  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.sweeping;
  }

  /** Drop ended windows, periods and leases now and then (fire and forget). */
  private maybeSweep(): void {
    const now = Date.now();
    if (now < this.nextSweep || this.sweeping) return;
    this.nextSweep = now + SWEEP_EVERY_MS;
    this.sweeping = (async () => {
      const before = sql`(extract(epoch from clock_timestamp()) * 1000)::bigint - ${SWEEP_GRACE_MS}`;
      await sql`delete from rate_limit_counters where expires_at is not null and expires_at < ${before}`.execute(this.db);
      await sql`delete from rate_limit_leases where expires_at < ${before}`.execute(this.db);
    })().catch(() => {}).finally(() => { this.sweeping = undefined; });
  }
}
