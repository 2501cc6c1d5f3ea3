import type { Kysely, Transaction } from 'kysely';
import type { ChangeRepository } from './changes.js';
import type { Database, ProviderAccountsTable } from './schema.js';
import type { ProviderName } from '../providers/types.js';
import type { CredentialKind, ProviderAccountConfig, StoredProviderAccount } from '../accounts/types.js';
import { auditRow, type NewAuditEvent } from './audit-events.js';

interface ConfigJson { base_url: string | null; api_version: string | null; project_id: string | null; location: string | null; credential: CredentialKind }

const configJson = (c: ProviderAccountConfig): string => JSON.stringify({
  base_url: c.baseUrl, api_version: c.apiVersion, project_id: c.projectId, location: c.location, credential: c.credential,
} satisfies ConfigJson);

function toConfig(text: string): ProviderAccountConfig {
  const c = JSON.parse(text) as Partial<ConfigJson>;
  return {
    baseUrl: c.base_url ?? null, apiVersion: c.api_version ?? null, projectId: c.project_id ?? null,
    location: c.location ?? null, credential: c.credential ?? 'none',
  };
}

const toAccount = (r: ProviderAccountsTable): StoredProviderAccount => ({
  id: r.id, orgId: r.org_id, provider: r.provider as ProviderName, name: r.name, config: toConfig(r.config),
  secretCiphertext: r.secret_ciphertext, secretHint: r.secret_hint,
  createdAt: r.created_at, updatedAt: r.updated_at, createdBy: r.created_by,
});

const toRow = (a: StoredProviderAccount): ProviderAccountsTable => ({
  id: a.id, org_id: a.orgId, provider: a.provider, name: a.name, config: configJson(a.config),
  secret_ciphertext: a.secretCiphertext, secret_hint: a.secretHint,
  created_at: a.createdAt, updated_at: a.updatedAt, created_by: a.createdBy,
});

/** SQLite and PostgreSQL report a UNIQUE violation differently. */
function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

export type ProviderAccountPatch = Partial<Pick<StoredProviderAccount, 'name' | 'config' | 'secretCiphertext' | 'secretHint'>>;

/**
 * BYOK provider accounts, one per provider per organisation. Every mutation writes its audit event
 * and a `provider` change-feed row (target: the organisation) in the same transaction, so every
 * process drops the organisation's cached credentials.
 */
export class ProviderAccountRepository {
  constructor(private readonly db: Kysely<Database>, private readonly changes?: ChangeRepository) {}

  /** A transaction that appends to the change feed; wakes every instance once it has committed. */
  private async write<T>(fn: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
    const result = await this.db.transaction().execute(fn);
    this.changes?.appended();
    return result;
  }

  private async sideEffects(tx: Transaction<Database>, orgId: string, audit: NewAuditEvent, now: number): Promise<void> {
    await tx.insertInto('audit_events').values(auditRow({ ...audit, createdAt: now })).execute();
    await tx.insertInto('changes').values({ kind: 'provider', target_id: orgId, created_at: now }).execute();
  }

  /** False (and nothing written) when the organisation already has an account for that provider. */
  async create(account: StoredProviderAccount, audit: NewAuditEvent): Promise<boolean> {
    try {
      await this.write(async (tx) => {
        await tx.insertInto('provider_accounts').values(toRow(account)).execute();
        await this.sideEffects(tx, account.orgId, audit, account.createdAt);
      });
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  async get(orgId: string, id: string): Promise<StoredProviderAccount | undefined> {
    const r = await this.db.selectFrom('provider_accounts').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
    return r && toAccount(r);
  }

  /** The organisation's account for a provider: the gateway's lookup (one unique-index match). */
  async byProvider(orgId: string, provider: ProviderName): Promise<StoredProviderAccount | undefined> {
    const r = await this.db.selectFrom('provider_accounts').selectAll().where('org_id', '=', orgId).where('provider', '=', provider).executeTakeFirst();
    return r && toAccount(r);
  }

  /** Oldest first. At most one account per provider, so there is nothing to page. */
  async list(orgId: string): Promise<StoredProviderAccount[]> {
    const rows = await this.db.selectFrom('provider_accounts').selectAll().where('org_id', '=', orgId).orderBy('created_at').orderBy('id').execute();
    return rows.map(toAccount);
  }

  async update(orgId: string, id: string, patch: ProviderAccountPatch, audit: NewAuditEvent, now = Date.now()): Promise<StoredProviderAccount | undefined> {
    return this.write(async (tx) => {
      const set: Partial<ProviderAccountsTable> = { updated_at: now };
      if (patch.name !== undefined) set.name = patch.name;
      if (patch.config !== undefined) set.config = configJson(patch.config);
      if (patch.secretCiphertext !== undefined) set.secret_ciphertext = patch.secretCiphertext;
      if (patch.secretHint !== undefined) set.secret_hint = patch.secretHint;
      const res = await tx.updateTable('provider_accounts').set(set).where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return undefined;
      await this.sideEffects(tx, orgId, audit, now);
      return toAccount(await tx.selectFrom('provider_accounts').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
    });
  }

  /** The deleted account, or undefined when there was none (then nothing is written). */
  async delete(orgId: string, id: string, audit: NewAuditEvent, now = Date.now()): Promise<StoredProviderAccount | undefined> {
    return this.write(async (tx) => {
      const r = await tx.selectFrom('provider_accounts').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
      if (!r) return undefined;
      const res = await tx.deleteFrom('provider_accounts').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
      // A concurrent delete won: one audit event per deletion.
      if (Number(res.numDeletedRows) === 0) return undefined;
      await this.sideEffects(tx, orgId, audit, now);
      return toAccount(r);
    });
  }
}
