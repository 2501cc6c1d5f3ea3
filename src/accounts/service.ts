/**
 * BYOK provider accounts: create, list, get, update and delete an organisation's own provider
 * credentials (one account per provider), check a connection, and — for the gateway's hot path —
 * `resolve(orgId, provider)` from memory.
 *
 * Secrets are encrypted before they reach the store and decrypted only into the resolve cache and
 * for connection checks; everything returned for display carries a hint, never the secret.
 */
import { ApiError, notFound, scrubSecrets } from '../errors.js';
import type { Store } from '../store/index.js';
import type { NewAuditEvent } from '../store/audit-events.js';
import { newId } from '../store/ids.js';
import type { Actor } from '../keys/service.js';
import { getAdapter } from '../providers/registry.js';
import type { ProviderAccount, ProviderAdapter, ProviderName } from '../providers/types.js';
import { AccountCache, type CachedAccount, type OrgAccounts } from './cache.js';
import type { CredentialCipher } from './crypto.js';
import type { CreateProviderAccountInput, ProviderAccountFields, UpdateProviderAccountInput } from './input.js';
import type { ProbeFn } from './probe.js';
import { checkSettings, credentialKind, PROVIDER_RULES, secretHint, type AccountSettings } from './rules.js';
import type { ProviderSecret, StoredProviderAccount } from './types.js';

/** The answer of a connection check. `status` is the provider's HTTP status, when it answered. */
export type ConnectionTestResult =
  | { ok: true; status: number; latency_ms: number }
  | { ok: false; status?: number; latency_ms: number; error: { message: string; code: string } };

export interface ProviderAccountServiceDeps {
  store: Store;
  cipher: CredentialCipher;
  /** Adapters by name; default: the shared registry. */
  adapters?: (name: ProviderName) => ProviderAdapter;
  /** Organisations whose accounts are kept decrypted in memory. */
  cacheSize?: number;
  cacheTtlMs?: number;
  now?: () => number;
}

const undecryptable = (provider: string): string =>
  `The stored credentials of this ${provider} account cannot be decrypted (was BACKBONE_SECRET changed?); enter them again under AI Providers`;

export class ProviderAccountService {
  private readonly store: Store;
  private readonly cipher: CredentialCipher;
  private readonly adapters: (name: ProviderName) => ProviderAdapter;
  readonly cache: AccountCache;
  private readonly now: () => number;
  /** Concurrent misses for the same organisation share one store lookup. */
  private readonly inflight = new Map<string, Promise<OrgAccounts>>();

  constructor(deps: ProviderAccountServiceDeps) {
    this.store = deps.store;
    this.cipher = deps.cipher;
    this.adapters = deps.adapters ?? getAdapter;
    this.cache = new AccountCache({ max: deps.cacheSize ?? 10_000, ttlMs: deps.cacheTtlMs });
    this.now = deps.now ?? Date.now;
  }

  /**
   * The organisation's decrypted account for a provider, or undefined when it has none. Memory-only
   * once warm (absences are known too). Throws ApiError(service_unavailable) when the store cannot
   * be reached for an uncached organisation, and ApiError(internal_error) when the stored secret
   * cannot be decrypted (BACKBONE_SECRET changed).
   */
  async resolve(orgId: string, provider: ProviderName): Promise<ProviderAccount | undefined> {
    const slot = (this.cache.get(orgId) ?? (await this.load(orgId))).get(provider);
    if (!slot) return undefined;
    if ('undecryptable' in slot) throw new ApiError('internal_error', undecryptable(provider));
    return slot.account;
  }

  /** The providers the organisation has accounts for (the gateway's `/models`); memory-only once warm. */
  async providers(orgId: string): Promise<ProviderName[]> {
    return [...(this.cache.get(orgId) ?? (await this.load(orgId))).keys()];
  }

  /** Drop an organisation's cached accounts (called for `provider` rows of the change feed). */
  invalidateOrg(orgId: string): void {
    this.cache.invalidateOrg(orgId);
    // A load that started before the change may hold old rows: later callers must not join it.
    this.inflight.delete(orgId);
  }

  /** One query for all of an organisation's accounts (at most one per provider). */
  private load(orgId: string): Promise<OrgAccounts> {
    const pending = this.inflight.get(orgId);
    if (pending) return pending;
    const epoch = this.cache.currentEpoch();
    const p: Promise<OrgAccounts> = this.store.providerAccounts.list(orgId).then(
      (rows) => {
        const accounts = new Map<ProviderName, CachedAccount>();
        for (const row of rows) {
          // One unreadable secret must not take the organisation's other accounts down with it.
          try { accounts.set(row.provider, { account: this.decrypt(row) }); } catch { accounts.set(row.provider, { undecryptable: true }); }
        }
        this.cache.set(orgId, accounts, epoch);
        return accounts;
      },
      () => { throw new ApiError('service_unavailable', 'The provider account store is unavailable; try again shortly'); },
    ).finally(() => { if (this.inflight.get(orgId) === p) this.inflight.delete(orgId); });
    this.inflight.set(orgId, p);
    return p;
  }

  async create(orgId: string, input: CreateProviderAccountInput, actor: Actor): Promise<StoredProviderAccount> {
    const settings: AccountSettings = {
      baseUrl: input.baseUrl ?? null, apiVersion: input.apiVersion ?? null,
      projectId: input.projectId ?? null, location: input.location ?? null,
      secret: secretOf(input),
    };
    checkSettings(input.provider, settings);
    const now = this.now();
    const account: StoredProviderAccount = {
      id: newId('prv'), orgId, provider: input.provider, name: input.name ?? PROVIDER_RULES[input.provider].label,
      ...this.sealed(orgId, input.provider, settings), createdAt: now, updatedAt: now, createdBy: actor.id,
    };
    const created = await this.store.providerAccounts.create(account, this.audit(orgId, actor, 'provider_account.created', account.id, {
      provider: account.provider, name: account.name, ...publicSettings(settings), credential: account.config.credential,
    }));
    if (!created) {
      const existing = await this.store.providerAccounts.byProvider(orgId, input.provider);
      throw new ApiError('conflict', `This organisation already has a ${input.provider} account${existing ? ` (${existing.id})` : ''}; change it with PATCH or delete it first`, { param: 'provider' });
    }
    this.invalidateOrg(orgId);
    return account;
  }

  async get(orgId: string, id: string): Promise<StoredProviderAccount> {
    const account = await this.store.providerAccounts.get(orgId, id);
    if (!account) throw notFound('provider account');
    return account;
  }

  list(orgId: string): Promise<StoredProviderAccount[]> {
    return this.store.providerAccounts.list(orgId);
  }

  /** Change settings; secrets are replaced only when given. The merged result must satisfy the provider's rules. */
  async update(orgId: string, id: string, patch: UpdateProviderAccountInput, actor: Actor): Promise<StoredProviderAccount> {
    const before = await this.get(orgId, id);
    if (patch.provider !== undefined && patch.provider !== before.provider) {
      throw new ApiError('invalid_request', "An account's provider cannot be changed; create an account for the other provider instead", { param: 'provider' });
    }
    const secretGiven = patch.apiKey !== undefined || patch.serviceAccountJson !== undefined;
    let current: ProviderSecret;
    try {
      current = JSON.parse(this.cipher.decrypt(before.secretCiphertext, { orgId, provider: before.provider })) as ProviderSecret;
    } catch {
      if (!secretGiven) throw new ApiError('invalid_request', undecryptable(before.provider), { param: before.config.credential === 'service_account' ? 'service_account_json' : 'api_key' });
      current = {};
    }
    const pick = <T>(given: T | undefined, old: T): T => (given !== undefined ? given : old);
    const c = before.config;
    const next: AccountSettings = {
      baseUrl: pick(patch.baseUrl, c.baseUrl), apiVersion: pick(patch.apiVersion, c.apiVersion),
      projectId: pick(patch.projectId, c.projectId), location: pick(patch.location, c.location),
      secret: mergeSecret(before.provider, current, patch),
    };
    checkSettings(before.provider, next);

    const changes: Record<string, { from: unknown; to: unknown }> = {};
    const name = patch.name ?? before.name;
    if (name !== before.name) changes.name = { from: before.name, to: name };
    const from = publicSettings({ ...c, secret: {} });
    const to = publicSettings(next);
    for (const field of Object.keys(to) as (keyof typeof to)[]) {
      if (from[field] !== to[field]) changes[field] = { from: from[field], to: to[field] };
    }
    if (Object.keys(changes).length === 0 && !secretGiven) return before;
    const sealed = secretGiven ? this.sealed(orgId, before.provider, next) : { config: { ...sealedConfig(next), credential: c.credential } };
    const updated = await this.store.providerAccounts.update(orgId, id, { name, ...sealed }, this.audit(orgId, actor, 'provider_account.updated', id, {
      provider: before.provider, changes, credentials_replaced: secretGiven,
    }), this.now());
    this.invalidateOrg(orgId);
    if (!updated) throw notFound('provider account');
    return updated;
  }

  async delete(orgId: string, id: string, actor: Actor): Promise<StoredProviderAccount> {
    const existing = await this.get(orgId, id);
    const deleted = await this.store.providerAccounts.delete(orgId, id, this.audit(orgId, actor, 'provider_account.deleted', id, {
      provider: existing.provider, name: existing.name,
    }), this.now());
    this.invalidateOrg(orgId);
    if (!deleted) throw notFound('provider account');
    return deleted;
  }

  /**
   * Connection check: the adapter's cheap authenticated call (`probe` + `authHeaders`), sent with
   * the injected transport. Answers data, never throws for a provider problem; the message comes
   * from the adapter's error mapping and never contains the account's secret.
   */
  async test(orgId: string, id: string, probe: ProbeFn): Promise<ConnectionTestResult> {
    const stored = await this.get(orgId, id);
    const started = performance.now();
    const latency = () => Math.round(performance.now() - started);
    let account: ProviderAccount;
    try {
      account = this.decrypt(stored);
    } catch (err) {
      return { ok: false, latency_ms: 0, error: { message: (err as ApiError).message, code: 'internal_error' } };
    }
    const clean = (message: string): string => redact(message, account).slice(0, 500);
    const adapter = this.adapters(stored.provider);
    try {
      const call = adapter.probe(account);
      const auth = await adapter.authHeaders(account);
      const res = await probe({ ...call, headers: { ...call.headers, ...auth } });
      if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, latency_ms: latency() };
      const info = adapter.error(res.status, res.bodyText, {});
      return { ok: false, status: res.status, latency_ms: latency(), error: { message: clean(info.error.message), code: info.error.code } };
    } catch (err) {
      const e = err as Error;
      const code = err instanceof ApiError ? err.code : 'upstream_error';
      const message = err instanceof ApiError ? e.message : `${stored.provider}: the connection check failed (${e.message})`;
      return { ok: false, latency_ms: latency(), error: { message: clean(message), code } };
    }
  }

  /** Stored row -> the frozen account the adapters use. */
  private decrypt(row: StoredProviderAccount): ProviderAccount {
    let secret: ProviderSecret;
    try {
      secret = JSON.parse(this.cipher.decrypt(row.secretCiphertext, { orgId: row.orgId, provider: row.provider })) as ProviderSecret;
    } catch {
      throw new ApiError('internal_error', undecryptable(row.provider));
    }
    const a: ProviderAccount = { provider: row.provider };
    const c = row.config;
    if (c.baseUrl) a.baseUrl = c.baseUrl;
    if (c.apiVersion) a.apiVersion = c.apiVersion;
    if (c.projectId) a.projectId = c.projectId;
    if (c.location) a.location = c.location;
    if (secret.apiKey) a.apiKey = secret.apiKey;
    if (secret.serviceAccountJson) a.serviceAccountJson = secret.serviceAccountJson;
    return Object.freeze(a);
  }

  /** Config, ciphertext and hint for a complete set of settings. */
  private sealed(orgId: string, provider: ProviderName, s: AccountSettings): Pick<StoredProviderAccount, 'config' | 'secretCiphertext' | 'secretHint'> {
    const secret: ProviderSecret = {};
    if (s.secret.apiKey) secret.apiKey = s.secret.apiKey;
    if (s.secret.serviceAccountJson) secret.serviceAccountJson = s.secret.serviceAccountJson;
    return {
      config: { ...sealedConfig(s), credential: credentialKind(secret) },
      secretCiphertext: this.cipher.encrypt(JSON.stringify(secret), { orgId, provider }),
      secretHint: secretHint(secret),
    };
  }

  private audit(orgId: string, actor: Actor, action: string, targetId: string, details: Record<string, unknown>): NewAuditEvent {
    return { orgId, actor: actor.id, action, targetType: 'provider_account', targetId, details, ip: actor.ip };
  }
}

function secretOf(f: ProviderAccountFields): ProviderSecret {
  const s: ProviderSecret = {};
  if (f.apiKey) s.apiKey = f.apiKey;
  if (f.serviceAccountJson) s.serviceAccountJson = f.serviceAccountJson;
  return s;
}

/**
 * Secrets after a PATCH: a given field replaces (null removes) the stored one. For a provider that
 * takes one credential or the other (vertex-ai), giving one replaces the other.
 */
function mergeSecret(provider: ProviderName, current: ProviderSecret, patch: ProviderAccountFields): ProviderSecret {
  const next: ProviderSecret = { ...current };
  const oneOf = PROVIDER_RULES[provider].oneOf;
  if (patch.apiKey !== undefined) {
    if (patch.apiKey) next.apiKey = patch.apiKey; else delete next.apiKey;
    if (patch.apiKey && oneOf?.includes('api_key') && patch.serviceAccountJson === undefined) delete next.serviceAccountJson;
  }
  if (patch.serviceAccountJson !== undefined) {
    if (patch.serviceAccountJson) next.serviceAccountJson = patch.serviceAccountJson; else delete next.serviceAccountJson;
    if (patch.serviceAccountJson && oneOf?.includes('service_account_json') && patch.apiKey === undefined) delete next.apiKey;
  }
  return next;
}

const sealedConfig = (s: AccountSettings) => ({ baseUrl: s.baseUrl, apiVersion: s.apiVersion, projectId: s.projectId, location: s.location });

/** The settings that may appear in audit details (no secret). */
const publicSettings = (s: AccountSettings) => ({ base_url: s.baseUrl, api_version: s.apiVersion, project_id: s.projectId, location: s.location });

/** Errors from a provider may quote what was sent; never pass the account's secrets on. */
function redact(message: string, account: ProviderAccount): string {
  let out = message;
  for (const secret of [account.apiKey, account.serviceAccountJson]) {
    if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  return scrubSecrets(out);
}
