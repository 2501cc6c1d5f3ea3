import type { Kysely } from 'kysely';
import type { Database, UsersTable } from './schema.js';
import { newId } from './ids.js';

export type Role = 'owner' | 'admin' | 'member';
export interface User { id: string; email: string; name: string; createdAt: number }

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

  async memberships(userId: string): Promise<{ orgId: string; role: Role }[]> {
    const rows = await this.db.selectFrom('memberships').select(['org_id', 'role']).where('user_id', '=', userId).execute();
    return rows.map((r) => ({ orgId: r.org_id, role: r.role as Role }));
  }
}
