import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface Change { id: number; kind: string; targetId: string }

/**
 * The change feed: every write that must invalidate caches elsewhere (a key revoked by the CLI,
 * by another instance) appends a row; each process polls for rows past its cursor. The feed is the
 * source of truth: a notification (Redis pub/sub, PostgreSQL NOTIFY) only says "poll now".
 */
export class ChangeRepository {
  private readonly listeners: (() => void)[] = [];

  constructor(private readonly db: Kysely<Database>) {}

  /** Called after a transaction that appended change rows has committed (publish a wake-up). */
  onAppended(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Repositories call this once their transaction with a change row has committed. */
  appended(): void {
    for (const l of this.listeners) {
      try { l(); } catch { /* a notifier never fails the write that succeeded */ }
    }
  }

  async latestId(): Promise<number> {
    const r = await this.db.selectFrom('changes').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
    return Number(r?.id ?? 0);
  }

  async since(cursor: number, limit = 1000): Promise<Change[]> {
    const rows = await this.db.selectFrom('changes').select(['id', 'kind', 'target_id']).where('id', '>', cursor).orderBy('id').limit(limit).execute();
    return rows.map((r) => ({ id: Number(r.id), kind: r.kind, targetId: r.target_id }));
  }

  /** Rows with these ids (ids skipped by an earlier read because their transaction had not committed yet). */
  async byIds(ids: readonly number[]): Promise<Change[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.selectFrom('changes').select(['id', 'kind', 'target_id']).where('id', 'in', ids).orderBy('id').execute();
    return rows.map((r) => ({ id: Number(r.id), kind: r.kind, targetId: r.target_id }));
  }

  /** Drop feed rows older than `maxAgeMs`; pollers only ever need the last few seconds. */
  async prune(maxAgeMs: number, now = Date.now()): Promise<void> {
    await this.db.deleteFrom('changes').where('created_at', '<', now - maxAgeMs).execute();
  }
}
