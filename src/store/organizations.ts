import type { Kysely, Transaction } from 'kysely';
import type { ChangeRepository } from './changes.js';
import type { Database, OrganizationsTable } from './schema.js';
import { newId } from './ids.js';
import { auditRow, type NewAuditEvent } from './audit-events.js';
import { limitsFromRow, limitsToRow, type Limits } from '../limits/types.js';

export interface Organization {
  id: string; slug: string; name: string; plan: string; createdAt: number;
  /** The organisation's own limits, over all of its keys together (null fields: none). */
  limits: Limits;
}

/** A change of plan and/or limits; only the fields given change. */
export interface OrgPatch { plan?: string; limits?: Partial<Limits> }

const toOrg = (r: OrganizationsTable): Organization => ({
  id: r.id, slug: r.slug, name: r.name, plan: r.plan, createdAt: r.created_at, limits: limitsFromRow(r),
});

export const DEFAULT_ORG_SLUG = 'default';

export class OrganizationRepository {
  constructor(private readonly db: Kysely<Database>, private readonly changes?: ChangeRepository) {}

  /** A transaction that appends to the change feed; wakes every instance once it has committed. */
  private async write<T>(fn: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
    const result = await this.db.transaction().execute(fn);
    this.changes?.appended();
    return result;
  }

  async create(input: { slug: string; name: string; plan?: string }, now = Date.now()): Promise<Organization> {
    const row: OrganizationsTable = { id: newId('org'), slug: input.slug, name: input.name, plan: input.plan ?? 'free', created_at: now };
    await this.db.insertInto('organizations').values(row).execute();
    return toOrg(row);
  }

  async bySlug(slug: string): Promise<Organization | undefined> {
    const r = await this.db.selectFrom('organizations').selectAll().where('slug', '=', slug).executeTakeFirst();
    return r && toOrg(r);
  }

  async byId(id: string): Promise<Organization | undefined> {
    const r = await this.db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toOrg(r);
  }

  /**
   * Change an organisation's plan or limits. The audit event and a change-feed row (kind `org`)
   * are written in the same transaction, so every process drops its cached copy.
   */
  async update(id: string, patch: OrgPatch, audit: NewAuditEvent, now = Date.now()): Promise<Organization | undefined> {
    return this.write(async (tx) => {
      const set: Partial<OrganizationsTable> = { ...limitsToRow(patch.limits ?? {}) };
      if (patch.plan !== undefined) set.plan = patch.plan;
      if (!(await tx.selectFrom('organizations').select('id').where('id', '=', id).executeTakeFirst())) return undefined;
      if (Object.keys(set).length > 0) await tx.updateTable('organizations').set(set).where('id', '=', id).execute();
      await tx.insertInto('audit_events').values(auditRow({ ...audit, createdAt: now })).execute();
      await tx.insertInto('changes').values({ kind: 'org', target_id: id, created_at: now }).execute();
      const r = await tx.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
      return r && toOrg(r);
    });
  }

  /** Rename, with its audit event, in one transaction. */
  async rename(id: string, name: string, audit: NewAuditEvent, now = Date.now()): Promise<Organization | undefined> {
    return this.db.transaction().execute(async (tx) => {
      await tx.updateTable('organizations').set({ name }).where('id', '=', id).execute();
      await tx.insertInto('audit_events').values(auditRow({ ...audit, createdAt: now })).execute();
      const r = await tx.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
      return r && toOrg(r);
    });
  }

  async list(): Promise<Organization[]> {
    return (await this.db.selectFrom('organizations').selectAll().orderBy('created_at').execute()).map(toOrg);
  }

  /** The organisation the CLI and a fresh install use; made on first run. Safe under concurrent starts. */
  async ensureDefault(): Promise<Organization> {
    const existing = await this.bySlug(DEFAULT_ORG_SLUG);
    if (existing) return existing;
    try {
      return await this.create({ slug: DEFAULT_ORG_SLUG, name: 'Default organization', plan: 'unlimited' });
    } catch (err) {
      const again = await this.bySlug(DEFAULT_ORG_SLUG);
      if (again) return again; // another process won the race
      throw err;
    }
  }
}
