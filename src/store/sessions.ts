import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface SessionRow { tokenHash: string; userId: string; orgId: string; createdAt: number; expiresAt: number }

/** Dashboard sessions, by the keyed hash of their token. */
export class SessionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async create(s: SessionRow & { ip: string | null }): Promise<void> {
    await this.db.insertInto('sessions').values({
      token_hash: s.tokenHash, user_id: s.userId, org_id: s.orgId, created_at: s.createdAt, expires_at: s.expiresAt, ip: s.ip,
    }).execute();
  }

  async get(tokenHash: string): Promise<SessionRow | undefined> {
    const r = await this.db.selectFrom('sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return r && { tokenHash: r.token_hash, userId: r.user_id, orgId: r.org_id, createdAt: r.created_at, expiresAt: r.expires_at };
  }

  async setOrg(tokenHash: string, orgId: string): Promise<void> {
    await this.db.updateTable('sessions').set({ org_id: orgId }).where('token_hash', '=', tokenHash).execute();
  }

  async delete(tokenHash: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('token_hash', '=', tokenHash).execute();
  }

  /** Every session of a user except `keep` (after a password change). */
  async deleteForUser(userId: string, keep?: string): Promise<void> {
    let q = this.db.deleteFrom('sessions').where('user_id', '=', userId);
    if (keep) q = q.where('token_hash', '!=', keep);
    await q.execute();
  }

  async deleteExpired(now = Date.now()): Promise<void> {
    await this.db.deleteFrom('sessions').where('expires_at', '<=', now).execute();
  }
}
