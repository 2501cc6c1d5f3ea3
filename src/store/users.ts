import type { Kysely } from 'kysely';
import type { Database, UsersTable } from './schema.js';
import { newId } from './ids.js';
import { auditRow, type NewAuditEvent } from './audit-events.js';

export type Role = 'owner' | 'admin' | 'member';
export const ROLES: readonly Role[] = ['owner', 'admin', 'member'];
export interface User { id: string; email: string; name: string; createdAt: number }
export interface Member extends User { role: Role; joinedAt: number }
export interface MembershipView { orgId: string; role: Role; slug: string; name: string; plan: string }

const toUser = (r: UsersTable): User => ({ id: r.id, email: r.email, name: r.name, createdAt: r.created_at });

export class UserRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Creates the user and, when given, its membership, in one transaction. */
  async create(input: { email: string; name: string; passwordHash?: string | null; orgId?: string; role?: Role }, now = Date.now()): Promise<User> {
    const row: UsersTable = { id: newId('usr'), email: input.email.toLowerCase(), name: input.name, password_hash: input.passwordHash ?? null, created_at: now };
    await this.db.transaction().execute(async (tx) => {
      await tx.insertInto('users').values(row).execute();
      if (input.orgId) await tx.insertInto('memberships').values({ org_id: input.orgId, user_id: row.id, role: input.role ?? 'member', created_at: now }).execute();
    });
    return toUser(row);
  }

  async byEmail(email: string): Promise<(User & { passwordHash: string | null }) | undefined> {
    const r = await this.db.selectFrom('users').selectAll().where('email', '=', email.toLowerCase()).executeTakeFirst();
    return r && { ...toUser(r), passwordHash: r.password_hash };
  }

  async byId(id: string): Promise<(User & { passwordHash: string | null }) | undefined> {
    const r = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return r && { ...toUser(r), passwordHash: r.password_hash };
  }

  /** Users with a password (able to sign in); first-run setup is open only while this is 0. */
  async countWithPassword(): Promise<number> {
    const r = await this.db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).where('password_hash', 'is not', null).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /**
   * First-run setup in one transaction: rename the organisation, then, only if still no user can
   * sign in, create the owner (or give a password-less CLI user of that email a password) as owner.
   * The rename comes first on purpose: on PostgreSQL it locks the organisation's row, so concurrent
   * setups run one after the other and the second sees the first's user; SQLite transactions are
   * serialised anyway. Returns undefined (and changes nothing) when setup was already done.
   */
  async createFirstOwner(input: { email: string; name: string; passwordHash: string; orgId: string; orgName: string }, audit: (userId: string) => NewAuditEvent, now = Date.now()): Promise<User | undefined> {
    const done = new Error('setup already done');
    try {
      return await this.db.transaction().execute(async (tx) => {
        await tx.updateTable('organizations').set({ name: input.orgName }).where('id', '=', input.orgId).execute();
        const n = await tx.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n')).where('password_hash', 'is not', null).executeTakeFirstOrThrow();
        if (Number(n.n) > 0) throw done;
        const email = input.email.toLowerCase();
        const existing = await tx.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
        let user: User;
        if (existing) {
          await tx.updateTable('users').set({ password_hash: input.passwordHash }).where('id', '=', existing.id).execute();
          user = toUser(existing);
        } else {
          const row: UsersTable = { id: newId('usr'), email, name: input.name, password_hash: input.passwordHash, created_at: now };
          await tx.insertInto('users').values(row).execute();
          user = toUser(row);
        }
        const member = await tx.selectFrom('memberships').select('role').where('org_id', '=', input.orgId).where('user_id', '=', user.id).executeTakeFirst();
        if (member) await tx.updateTable('memberships').set({ role: 'owner' }).where('org_id', '=', input.orgId).where('user_id', '=', user.id).execute();
        else await tx.insertInto('memberships').values({ org_id: input.orgId, user_id: user.id, role: 'owner', created_at: now }).execute();
        await tx.insertInto('audit_events').values(auditRow({ ...audit(user.id), createdAt: now })).execute();
        return user;
      });
    } catch (err) {
      if (err === done) return undefined;
      throw err;
    }
  }

  async setPassword(id: string, passwordHash: string): Promise<void> {
    await this.db.updateTable('users').set({ password_hash: passwordHash }).where('id', '=', id).execute();
  }

  async memberships(userId: string): Promise<{ orgId: string; role: Role }[]> {
    const rows = await this.db.selectFrom('memberships').select(['org_id', 'role']).where('user_id', '=', userId).execute();
    return rows.map((r) => ({ orgId: r.org_id, role: r.role as Role }));
  }

  /** The user's organisations with their names, oldest membership first. */
  async organizations(userId: string): Promise<MembershipView[]> {
    const rows = await this.db.selectFrom('memberships').innerJoin('organizations', 'organizations.id', 'memberships.org_id')
      .select(['memberships.org_id', 'memberships.role', 'organizations.slug', 'organizations.name', 'organizations.plan'])
      .where('memberships.user_id', '=', userId).orderBy('memberships.created_at').execute();
    return rows.map((r) => ({ orgId: r.org_id, role: r.role as Role, slug: r.slug, name: r.name, plan: r.plan }));
  }

  async role(orgId: string, userId: string): Promise<Role | undefined> {
    const r = await this.db.selectFrom('memberships').select('role').where('org_id', '=', orgId).where('user_id', '=', userId).executeTakeFirst();
    return r?.role as Role | undefined;
  }

  async members(orgId: string): Promise<Member[]> {
    const rows = await this.db.selectFrom('memberships').innerJoin('users', 'users.id', 'memberships.user_id')
      .select(['users.id', 'users.email', 'users.name', 'users.created_at', 'memberships.role', 'memberships.created_at as joined_at'])
      .where('memberships.org_id', '=', orgId).orderBy('memberships.created_at').execute();
    return rows.map((r) => ({ id: r.id, email: r.email, name: r.name, createdAt: r.created_at, role: r.role as Role, joinedAt: r.joined_at }));
  }

  async addMembership(orgId: string, userId: string, role: Role, audit: NewAuditEvent, now = Date.now()): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.insertInto('memberships').values({ org_id: orgId, user_id: userId, role, created_at: now }).execute();
      await tx.insertInto('audit_events').values(auditRow({ ...audit, createdAt: now })).execute();
    });
  }

  async setRole(orgId: string, userId: string, role: Role, audit: NewAuditEvent): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const r = await tx.updateTable('memberships').set({ role }).where('org_id', '=', orgId).where('user_id', '=', userId).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) return false;
      await tx.insertInto('audit_events').values(auditRow(audit)).execute();
      return true;
    });
  }

  /** Removes the membership and the user's sessions in that organisation. */
  async removeMembership(orgId: string, userId: string, audit: NewAuditEvent): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const r = await tx.deleteFrom('memberships').where('org_id', '=', orgId).where('user_id', '=', userId).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) return false;
      await tx.deleteFrom('sessions').where('org_id', '=', orgId).where('user_id', '=', userId).execute();
      await tx.insertInto('audit_events').values(auditRow(audit)).execute();
      return true;
    });
  }
}
