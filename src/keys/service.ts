/**
 * The key service: create, verify, list, update, revoke and rotate API keys.
 *
 * `verify` returns data (`{ valid: false, code: 'key_revoked' }`); only the HTTP edge maps it to a
 * status. Verification of a hot key is memory-only: format and checksum, one HMAC, one cache read.
 */
import { ApiError, invalidRequest, notFound } from '../errors.js';
import type { Store } from '../store/index.js';
import type { NewAuditEvent } from '../store/audit-events.js';
import type { KeyPatch } from '../store/api-keys.js';
import { newId } from '../store/ids.js';
import { KeyCache, type CachedKey } from './cache.js';
import { generateKey, parseKey } from './format.js';
import type { KeyHasher } from './hash.js';
import { compileAllowList } from './ip-allow-list.js';
import { LastUsedTracker } from './last-used.js';
import { DEFAULT_PERMISSIONS, type Permission } from './permissions.js';
import type { ApiKey } from './types.js';
import type { CreateKeyInput } from './input.js';
import { NO_LIMITS, limitsJson, type Limits } from '../limits/types.js';
import { checkBudget } from '../limits/input.js';

export type VerifyFailure = 'missing_api_key' | 'invalid_api_key' | 'key_revoked' | 'key_expired' | 'ip_not_allowed';

export type VerifyResult =
  | { valid: true; key: ApiKey }
  | { valid: false; code: VerifyFailure; /** the key's id when the secret was recognised */ keyId?: string; reason?: string };

/** Who is acting, for audit events and to stop a key from granting more than it holds. */
export interface Actor {
  /** `key:<id>`, `user:<id>` or `cli`. */
  id: string;
  ip: string | null;
  /** The acting key's permissions; a key cannot grant permissions it does not hold. Unset = no limit. */
  permissions?: readonly Permission[];
  /** The acting key's model allow-list; keys it creates stay within it. */
  allowedModels?: readonly string[] | null;
}

/** Limits key management to the keys one actor created (dashboard members). */
export interface KeyScope { createdBy: string }

export interface KeyServiceDeps {
  store: Store;
  hasher: KeyHasher;
  cache: KeyCache;
  lastUsed: LastUsedTracker;
  now?: () => number;
  /** Store health (servers): bounds how long verified keys keep working while the store is away. */
  outage?: { pastGrace(now: number): boolean; failed(err: unknown): void };
}

export class KeyService {
  private readonly store: Store;
  private readonly hasher: KeyHasher;
  readonly cache: KeyCache;
  private readonly lastUsed: LastUsedTracker;
  private readonly now: () => number;
  private readonly outage: KeyServiceDeps['outage'];
  /** Concurrent misses for the same secret share one store lookup. */
  private readonly inflight = new Map<string, Promise<CachedKey | null>>();

  constructor(deps: KeyServiceDeps) {
    this.store = deps.store;
    this.hasher = deps.hasher;
    this.cache = deps.cache;
    this.lastUsed = deps.lastUsed;
    this.now = deps.now ?? Date.now;
    this.outage = deps.outage;
  }

  /**
   * Verify a presented secret for a request from `ip`. Throws ApiError(service_unavailable) when the
   * store cannot be reached for an uncached key: an outage must not look like a bad key.
   */
  async verify(presented: string | undefined, ip: string): Promise<VerifyResult> {
    if (!presented) return { valid: false, code: 'missing_api_key' };
    const parsed = parseKey(presented);
    if (!parsed.ok) return { valid: false, code: 'invalid_api_key', reason: parsed.reason };
    if (this.outage?.pastGrace(this.now())) throw new ApiError('service_unavailable', 'The key store has been unavailable for too long to trust cached keys; try again shortly');
    const hash = this.hasher(presented);
    let entry = this.cache.get(hash);
    if (entry === undefined) entry = await this.load(hash);
    if (entry === null) return { valid: false, code: 'invalid_api_key', reason: 'unknown' };

    const { key } = entry;
    const now = this.now();
    if (key.revokedAt !== null) return { valid: false, code: 'key_revoked', keyId: key.id };
    if (entry.secretExpiresAt !== null && entry.secretExpiresAt <= now) {
      return { valid: false, code: 'key_revoked', keyId: key.id, reason: 'rotated' };
    }
    if (key.expiresAt !== null && key.expiresAt <= now) return { valid: false, code: 'key_expired', keyId: key.id };
    if (entry.ipCheck && !entry.ipCheck(ip)) return { valid: false, code: 'ip_not_allowed', keyId: key.id };
    this.lastUsed.touch(key.id, now);
    return { valid: true, key };
  }

  private load(hash: string): Promise<CachedKey | null> {
    let p = this.inflight.get(hash);
    if (p) return p;
    const epoch = this.cache.currentEpoch();
    p = this.store.keys.lookup(hash).then(
      (found) => {
        if (!found) {
          this.cache.setMissing(hash, epoch);
          return null;
        }
        const entry: CachedKey = { ...found, ipCheck: found.key.allowedIps ? compileAllowList(found.key.allowedIps) : null };
        this.cache.set(hash, entry, epoch);
        return entry;
      },
      (err: unknown) => {
        // A key verified before the outage keeps working within the grace period (not a 401, not a 503).
        if (this.outage) {
          this.outage.failed(err);
          const stale = this.cache.getStale(hash);
          if (stale && !this.outage.pastGrace(this.now())) return stale;
        }
        throw new ApiError('service_unavailable', 'The key store is unavailable; try again shortly');
      },
    ).finally(() => this.inflight.delete(hash));
    this.inflight.set(hash, p);
    return p;
  }

  /** Create a key; the only time the full secret exists outside the caller's hands. */
  async create(orgId: string, input: CreateKeyInput, actor: Actor): Promise<{ key: ApiKey; secret: string }> {
    this.checkGrant(actor, input.permissions);
    const allowedModels = input.allowedModels ?? (actor.allowedModels ? [...actor.allowedModels] : null);
    this.checkModels(actor, allowedModels);
    const { key: secret, prefix } = generateKey(input.environment);
    const now = this.now();
    const key: ApiKey = {
      id: newId('key'), orgId, name: input.name, environment: input.environment, prefix,
      permissions: input.permissions, allowedModels, allowedIps: input.allowedIps, expiresAt: input.expiresAt,
      createdAt: now, createdBy: actor.id, lastUsedAt: null, revokedAt: null, updatedAt: now,
      limits: { ...(input.limits ?? NO_LIMITS) },
    };
    await this.store.keys.create(key, this.hasher(secret), this.audit(orgId, actor, 'api_key.created', key.id, {
      name: key.name, prefix, environment: key.environment, permissions: key.permissions,
      allowed_models: key.allowedModels, allowed_ips: key.allowedIps, expires_at: key.expiresAt, ...limitsJson(key.limits),
    }));
    return { key, secret };
  }

  /** `scope.createdBy`: only a key made by this actor is found (a dashboard member's view); others are 404. */
  async get(orgId: string, id: string, scope?: KeyScope): Promise<ApiKey> {
    const key = await this.store.keys.get(orgId, id);
    if (!key || (scope && key.createdBy !== scope.createdBy)) throw notFound('API key');
    return key;
  }

  list(orgId: string, opts: { limit: number; after?: string; createdBy?: string }): Promise<ApiKey[]> {
    return this.store.keys.list(orgId, opts);
  }

  async update(orgId: string, id: string, patch: KeyPatch, actor: Actor, scope?: KeyScope): Promise<ApiKey> {
    const before = await this.get(orgId, id, scope);
    if (patch.permissions) this.checkGrant(actor, patch.permissions);
    if (patch.allowedModels !== undefined) this.checkModels(actor, patch.allowedModels);
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    const fields: [keyof KeyPatch, string][] = [['name', 'name'], ['permissions', 'permissions'], ['allowedModels', 'allowed_models'], ['allowedIps', 'allowed_ips'], ['expiresAt', 'expires_at']];
    for (const [field, label] of fields) {
      if (patch[field] !== undefined && JSON.stringify(patch[field]) !== JSON.stringify(before[field])) {
        changes[label] = { from: before[field], to: patch[field] };
      }
    }
    if (patch.limits) {
      const after: Limits = { ...before.limits, ...patch.limits };
      checkBudget(after);
      const [was, is] = [limitsJson(before.limits), limitsJson(after)];
      for (const label of Object.keys(is) as (keyof typeof is)[]) {
        if (was[label] !== is[label]) changes[label] = { from: was[label], to: is[label] };
      }
    }
    if (Object.keys(changes).length === 0) return before;
    const key = await this.store.keys.update(orgId, id, patch, this.audit(orgId, actor, 'api_key.updated', id, { changes }), this.now());
    this.cache.invalidateKey(id);
    if (!key) throw notFound('API key');
    return key;
  }

  async revoke(orgId: string, id: string, actor: Actor, scope?: KeyScope): Promise<ApiKey> {
    const existing = await this.get(orgId, id, scope);
    const key = await this.store.keys.revoke(orgId, id, this.audit(orgId, actor, 'api_key.revoked', id, { name: existing.name, prefix: existing.prefix }), this.now());
    this.cache.invalidateKey(id);
    if (!key) throw notFound('API key');
    return key;
  }

  /** New secret for the same key id; the old secret keeps working for `graceMs` (0 = stops at once). */
  async rotate(orgId: string, id: string, graceMs: number, actor: Actor, scope?: KeyScope): Promise<{ key: ApiKey; secret: string; previousSecretExpiresAt: number }> {
    const existing = await this.get(orgId, id, scope);
    if (existing.revokedAt !== null) throw invalidRequest('A revoked key cannot be rotated; create a new key', 'id');
    const { key: secret, prefix } = generateKey(existing.environment);
    const now = this.now();
    const graceUntil = now + graceMs;
    const key = await this.store.keys.rotate(orgId, id, { hash: this.hasher(secret), prefix, graceUntil }, this.audit(orgId, actor, 'api_key.rotated', id, {
      previous_prefix: existing.prefix, prefix, grace_seconds: Math.round(graceMs / 1000),
    }), now);
    this.cache.invalidateKey(id);
    if (!key) throw invalidRequest('A revoked key cannot be rotated; create a new key', 'id');
    return { key, secret, previousSecretExpiresAt: graceUntil };
  }

  private checkGrant(actor: Actor, wanted: readonly Permission[]): void {
    if (!actor.permissions) return;
    const missing = wanted.find((p) => !actor.permissions!.includes(p));
    if (missing) {
      const who = actor.id.startsWith('user:') ? 'Your role' : 'This API key';
      throw new ApiError('insufficient_permissions', `${who} cannot grant the '${missing}' permission, which it does not hold itself`, { param: 'permissions' });
    }
  }

  private checkModels(actor: Actor, wanted: readonly string[] | null): void {
    if (!actor.allowedModels) return;
    const outside = wanted === null ? 'every model' : wanted.find((m) => !actor.allowedModels!.includes(m));
    if (outside) throw new ApiError('insufficient_permissions', `This API key cannot grant access to ${outside === 'every model' ? outside : `'${outside}'`}, which it cannot call itself`, { param: 'allowed_models' });
  }

  private audit(orgId: string, actor: Actor, action: string, targetId: string, details: Record<string, unknown>): NewAuditEvent {
    return { orgId, actor: actor.id, action, targetType: 'api_key', targetId, details, ip: actor.ip };
  }
}

export { DEFAULT_PERMISSIONS };
