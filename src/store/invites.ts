import type { Kysely } from 'kysely';
import type { Database, InvitesTable } from './schema.js';
import { auditRow, type NewAuditEvent } from './audit-events.js';
import type { Role } from './users.js';

export interface Invite {
  id: string; orgId: string; email: string | null; role: Role; createdBy: string;
  createdAt: number; expiresAt: number; acceptedAt: number | null; acceptedBy: string | null;
}

const toInvite = (r: InvitesTable): Invite => ({
  id: r.id, orgId: r.org_id, email: r.email, role: r.role as Role, createdBy: r.created_by,
  createdAt: r.created_at, expiresAt: r.expires_at, acceptedAt: r.accepted_at, acceptedBy: r.accepted_by,
});

/** Invite links: single use (accepting marks them atomically), expiring. */
export class InviteRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async create(i: Invite & { tokenHash: string }, audit: NewAuditEvent): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.insertInto('invites').values({
        id: i.id, org_id: i.orgId, token_hash: i.tokenHash, email: i.email, role: i.role, created_by: i.createdBy,
        created_at: i.createdAt, expires_at: i.expiresAt, accepted_at: null, accepted_by: null,
      }).execute();
      await tx.insertInto('audit_events').values(auditRow(audit)).execute();
    });
  }

  async byTokenHash(tokenHash: string): Promise<Invite | undefined> {
    const r = await this.db.selectFrom('invites').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return r && toInvite(r);
  }

  /** Pending (not accepted) invites of an organisation, newest first. */
  async pending(orgId: string): Promise<Invite[]> {
    const rows = await this.db.selectFrom('invites').selectAll().where('org_id', '=', orgId).where('accepted_at', 'is', null)
      .orderBy('created_at', 'desc').limit(500).execute();
    return rows.map(toInvite);
  }

  async delete(orgId: string, id: string, audit: NewAuditEvent): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const r = await tx.deleteFrom('invites').where('org_id', '=', orgId).where('id', '=', id).where('accepted_at', 'is', null).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) return false;
      await tx.insertInto('audit_events').values(auditRow(audit)).execute();
      return true;
    });
  }

  /**
   * Use the invite once: marks it accepted and adds the membership in one transaction. Returns
   * false when it was already used or has expired (a concurrent second use loses the update).
   */
  async accept(id: string, userId: string, now: number, audit: NewAuditEvent): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const r = await tx.updateTable('invites').set({ accepted_at: now, accepted_by: userId })
        .where('id', '=', id).where('accepted_at', 'is', null).where('expires_at', '>', now).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) return false;
      const inv = await tx.selectFrom('invites').select(['org_id', 'role']).where('id', '=', id).executeTakeFirstOrThrow();
      const existing = await tx.selectFrom('memberships').select('role').where('org_id', '=', inv.org_id).where('user_id', '=', userId).executeTakeFirst();
      if (!existing) await tx.insertInto('memberships').values({ org_id: inv.org_id, user_id: userId, role: inv.role, created_at: now }).execute();
      await tx.insertInto('audit_events').values(auditRow({ ...audit, createdAt: now })).execute();
      return true;
    });
  }
}
