import type { Kysely } from 'kysely';
import type { Database, OrganizationsTable } from './schema.js';
import { newId } from './ids.js';

export interface Organization { id: string; slug: string; name: string; plan: string; createdAt: number }

const toOrg = (r: OrganizationsTable): Organization => ({ id: r.id, slug: r.slug, name: r.name, plan: r.plan, createdAt: r.created_at });

export const DEFAULT_ORG_SLUG = 'default';

export class OrganizationRepository {
  constructor(private readonly db: Kysely<Database>) {}

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
