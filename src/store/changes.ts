import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface Change { id: number; kind: string; targetId: string }

/**
 * The change feed: every write that must invalidate caches elsewhere (a key revoked by the CLI,
 * by another instance) appends a row; each process polls for rows past its cursor.
 */
export class ChangeRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async latestId(): Promise<number> {
    const r = await this.db.selectFrom('changes').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
    return Number(r?.id ?? 0);
  }

  async since(cursor: number, limit = 1000): Promise<Change[]> {
    const rows = await this.db.selectFrom('changes').select(['id', 'kind', 'target_id']).where('id', '>', cursor).orderBy('id').limit(limit).execute();
    return rows.map((r) => ({ id: Number(r.id), kind: r.kind, targetId: r.target_id }));
  }

  /** Drop feed rows older than `maxAgeMs`; pollers only ever need the last few seconds. */
  async prune(maxAgeMs: number, now = Date.now()): Promise<void> {
    await this.db.deleteFrom('changes').where('created_at', '<', now - maxAgeMs).execute();
  }
}
