import type { Kysely, Transaction } from 'kysely';
import type { ApiKeysTable, Database } from './schema.js';
import type { ChangeRepository } from './changes.js';
import type { ApiKey, KeyLookup } from '../keys/types.js';
import type { Permission } from '../keys/permissions.js';
import type { KeyEnvironment } from '../keys/format.js';
import { auditRow, type NewAuditEvent } from './audit-events.js';
import { limitsFromRow, limitsToRow } from '../limits/types.js';

const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

function toKey(r: ApiKeysTable): ApiKey {
  return {
    id: r.id, orgId: r.org_id, name: r.name, environment: r.environment as KeyEnvironment, prefix: r.prefix,
    permissions: JSON.parse(r.permissions) as Permission[],
    allowedModels: r.allowed_models === null ? null : (JSON.parse(r.allowed_models) as string[]),
    allowedIps: r.allowed_ips === null ? null : (JSON.parse(r.allowed_ips) as string[]),
    expiresAt: r.expires_at, createdAt: r.created_at, createdBy: r.created_by,
    lastUsedAt: r.last_used_at, revokedAt: r.revoked_at, updatedAt: r.updated_at,
    limits: limitsFromRow(r),
  };
}

function toRow(k: ApiKey): ApiKeysTable {
  return {
    id: k.id, org_id: k.orgId, name: k.name, environment: k.environment, prefix: k.prefix,
    permissions: JSON.stringify(k.permissions), allowed_models: json(k.allowedModels), allowed_ips: json(k.allowedIps),
    expires_at: k.expiresAt, created_at: k.createdAt, created_by: k.createdBy,
    last_used_at: k.lastUsedAt, revoked_at: k.revokedAt, updated_at: k.updatedAt,
    ...limitsToRow(k.limits),
  };
}

export type KeyPatch = Partial<Pick<ApiKey, 'name' | 'permissions' | 'allowedModels' | 'allowedIps' | 'expiresAt'>> & {
  /** Only the limits given change. */
  limits?: Partial<ApiKey['limits']>;
};

/**
 * API keys and their secret hashes. Every mutation writes its audit event and a change-feed row
 * in the same transaction, so "who changed what" and cache invalidation can never be lost.
 */
export class ApiKeyRepository {
  constructor(private readonly db: Kysely<Database>, private readonly changes?: ChangeRepository) {}

  /** A transaction that appends to the change feed; wakes every instance once it has committed. */
  private async write<T>(fn: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
    const result = await this.db.transaction().execute(fn);
    this.changes?.appended();
    return result;
  }

  private async sideEffects(tx: Transaction<Database>, keyId: string, audit: NewAuditEvent, now: number): Promise<void> {
    await tx.insertInto('audit_events').values(auditRow({ ...audit, createdAt: now })).execute();
    await tx.insertInto('changes').values({ kind: 'key', target_id: keyId, created_at: now }).execute();
  }

  async create(key: ApiKey, secretHash: string, audit: NewAuditEvent): Promise<void> {
    await this.write(async (tx) => {
      await tx.insertInto('api_keys').values(toRow(key)).execute();
      await tx.insertInto('api_key_secrets').values({ hash: secretHash, key_id: key.id, prefix: key.prefix, created_at: key.createdAt, expires_at: null }).execute();
      await this.sideEffects(tx, key.id, audit, key.createdAt);
    });
  }

  /** Resolve a secret's hash to its key: one indexed join. */
  async lookup(secretHash: string): Promise<KeyLookup | undefined> {
    const r = await this.db.selectFrom('api_key_secrets as s')
      .innerJoin('api_keys as k', 'k.id', 's.key_id')
      .selectAll('k')
      .select('s.expires_at as secret_expires_at')
      .where('s.hash', '=', secretHash)
      .executeTakeFirst();
    if (!r) return undefined;
    const { secret_expires_at, ...row } = r;
    return { key: toKey(row), secretExpiresAt: secret_expires_at };
  }

  async get(orgId: string, id: string): Promise<ApiKey | undefined> {
    const r = await this.db.selectFrom('api_keys').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
    return r && toKey(r);
  }

  /** Oldest first; `after` is the id of the last key of the previous page. */
  async list(orgId: string, opts: { limit: number; after?: string; createdBy?: string }): Promise<ApiKey[]> {
    let q = this.db.selectFrom('api_keys').selectAll().where('org_id', '=', orgId);
    if (opts.createdBy !== undefined) q = q.where('created_by', '=', opts.createdBy);
    if (opts.after) {
      const cursor = await this.db.selectFrom('api_keys').select(['created_at', 'id']).where('org_id', '=', orgId).where('id', '=', opts.after).executeTakeFirst();
      if (!cursor) return [];
      q = q.where((eb) => eb.or([
        eb('created_at', '>', cursor.created_at),
        eb.and([eb('created_at', '=', cursor.created_at), eb('id', '>', cursor.id)]),
      ]));
    }
    const rows = await q.orderBy('created_at').orderBy('id').limit(opts.limit).execute();
    return rows.map(toKey);
  }

  async update(orgId: string, id: string, patch: KeyPatch, audit: NewAuditEvent, now = Date.now()): Promise<ApiKey | undefined> {
    return this.write(async (tx) => {
      const set: Partial<ApiKeysTable> = { updated_at: now };
      if (patch.name !== undefined) set.name = patch.name;
      if (patch.permissions !== undefined) set.permissions = JSON.stringify(patch.permissions);
      if (patch.allowedModels !== undefined) set.allowed_models = json(patch.allowedModels);
      if (patch.allowedIps !== undefined) set.allowed_ips = json(patch.allowedIps);
      if (patch.expiresAt !== undefined) set.expires_at = patch.expiresAt;
      if (patch.limits) Object.assign(set, limitsToRow(patch.limits));
      const res = await tx.updateTable('api_keys').set(set).where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return undefined;
      await this.sideEffects(tx, id, audit, now);
      const r = await tx.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      return toKey(r);
    });
  }

  /** Idempotent: a key revoked twice keeps its first revocation time (and gets one audit event). */
  async revoke(orgId: string, id: string, audit: NewAuditEvent, now = Date.now()): Promise<ApiKey | undefined> {
    return this.write(async (tx) => {
      const res = await tx.updateTable('api_keys').set({ revoked_at: now, updated_at: now })
        .where('org_id', '=', orgId).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
      if (Number(res.numUpdatedRows) > 0) await this.sideEffects(tx, id, audit, now);
      const r = await tx.selectFrom('api_keys').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
      return r && toKey(r);
    });
  }

  /**
   * New secret, same key id (usage and audit history stay with the key). Every older secret stops
   * working at `graceUntil` (now = at once), or earlier if it was already due to.
   */
  async rotate(orgId: string, id: string, next: { hash: string; prefix: string; graceUntil: number }, audit: NewAuditEvent, now = Date.now()): Promise<ApiKey | undefined> {
    return this.write(async (tx) => {
      const res = await tx.updateTable('api_keys').set({ prefix: next.prefix, updated_at: now })
        .where('org_id', '=', orgId).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return undefined;
      await tx.updateTable('api_key_secrets').set({ expires_at: next.graceUntil })
        .where('key_id', '=', id)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', next.graceUntil)]))
        .execute();
      await tx.insertInto('api_key_secrets').values({ hash: next.hash, key_id: id, prefix: next.prefix, created_at: now, expires_at: null }).execute();
      await this.sideEffects(tx, id, audit, now);
      const r = await tx.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      return toKey(r);
    });
  }

  /** Write-behind of last-use times, one transaction per batch; never moves a time backwards. */
  async touchLastUsed(entries: ReadonlyMap<string, number>): Promise<void> {
    if (entries.size === 0) return;
    await this.db.transaction().execute(async (tx) => {
      for (const [id, at] of entries) {
        await tx.updateTable('api_keys').set({ last_used_at: at })
          .where('id', '=', id)
          .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
          .execute();
      }
    });
  }
}
