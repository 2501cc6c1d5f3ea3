/**
 * Monthly partitions of the PostgreSQL usage ledger (`usage_events_yYYYYmMM`, bounds in Unix ms,
 * UTC months). Migration 003 makes the partitioned table and a default partition; partitions are
 * made here ahead of time, because PostgreSQL refuses to create a partition whose range already
 * has rows in the default partition. Retention drops whole partitions: no long DELETE, no bloat.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

/** The first instant (Unix ms) of the UTC month holding `ms`, shifted by `add` months. */
export function monthStart(ms: number, add = 0): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + add, 1);
}

/** `usage_events_y2026m01` for the month starting at `start`. */
export function partitionName(start: number): string {
  const d = new Date(start);
  return `usage_events_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

export interface Partition {
  name: string;
  /** null for the default partition. */
  from: number | null;
  to: number | null;
}

export interface PartitionReport {
  created: string[];
  /** Partitions that could not be made (e.g. the default partition already holds rows of that month). */
  failed: { name: string; error: string }[];
}

/**
 * Partition DDL locks the parent table. Waiting behind a long usage report would queue every
 * ledger INSERT behind the DDL; with a lock timeout the DDL gives up instead (and is retried at
 * the next upkeep), so writers never stall on it.
 */
async function withLockTimeout(db: Kysely<Database>, fn: (tx: Kysely<Database>) => Promise<unknown>): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await sql`set local lock_timeout = '5s'`.execute(tx);
    await fn(tx);
  });
}

/** Every partition of `usage_events` with its bounds, read from the catalog. */
export async function listPartitions(db: Kysely<Database>): Promise<Partition[]> {
  const { rows } = await sql<{ name: string; bound: string }>`
    select c.relname as name, pg_get_expr(c.relpartbound, c.oid) as bound
    from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'usage_events'::regclass`.execute(db);
  return rows.map((r) => {
    const m = /FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)/.exec(r.bound);
    return { name: r.name, from: m ? Number(m[1]) : null, to: m ? Number(m[2]) : null };
  });
}

/** Make the partitions of the month holding `now` and of the next one, when missing. Never throws
 *  for one partition: a failure is reported, and rows of that month keep landing in the default. */
export async function ensureMonthPartitions(db: Kysely<Database>, now: number, months = 2): Promise<PartitionReport> {
  const existing = new Set((await listPartitions(db)).map((p) => p.name));
  const report: PartitionReport = { created: [], failed: [] };
  for (let i = 0; i < months; i++) {
    const from = monthStart(now, i);
    const name = partitionName(from);
    if (existing.has(name)) continue;
    try {
      // Bounds are integers we computed, not input; DDL cannot take bind parameters.
      await withLockTimeout(db, (tx) => sql`create table if not exists ${sql.table(name)} partition of usage_events
        for values from (${sql.lit(from)}) to (${sql.lit(monthStart(now, i + 1))})`.execute(tx));
      report.created.push(name);
    } catch (err) {
      // Another node made it at the same moment: fine.
      if ((await listPartitions(db)).some((p) => p.name === name)) continue;
      // Typically: "updated partition constraint for default partition would be violated" (rows of
      // that month were written before the partition existed), or the lock timeout below.
      report.failed.push({ name, error: (err as Error).message });
    }
  }
  return report;
}

/** Drop every month partition that ends at or before `cutoff` (a month start), and delete the
 *  default partition's rows older than it. Returns what went. */
export async function dropPartitionsBefore(db: Kysely<Database>, cutoff: number): Promise<{ dropped: string[]; deletedRows: number }> {
  const dropped: string[] = [];
  let deletedRows = 0;
  for (const p of await listPartitions(db)) {
    if (p.to === null) {
      const r = await sql`delete from ${sql.table(p.name)} where created_at < ${cutoff}`.execute(db);
      deletedRows += Number(r.numAffectedRows ?? 0);
    } else if (p.to <= cutoff) {
      await withLockTimeout(db, (tx) => sql`drop table if exists ${sql.table(p.name)}`.execute(tx));
      dropped.push(p.name);
    }
  }
  return { dropped: dropped.sort(), deletedRows };
}
