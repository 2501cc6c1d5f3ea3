/**
 * The gateway's view of BYOK accounts: each organisation's decrypted `ProviderAccount`s, so a
 * request for `openai/gpt-4o` (or a `/models` listing) makes no store round trip and no decryption
 * once warm.
 *
 * - One entry per organisation holding all of its accounts (at most one per provider), loaded with
 *   one query; so "no account for this provider" is known from memory too (negative caching), and
 *   an organisation calling `ollama/...` without an Ollama account costs no query per request.
 * - Keyed by organisation id, never by a secret; bounded (LRU) with a TTL as a safety net behind
 *   explicit invalidation through the change feed.
 * - `invalidateOrg` bumps an epoch, so a load in flight while an account changed does not put back
 *   what it read before the change.
 */
import { LRUCache } from 'lru-cache';
import { TTL_RESOLUTION_MS } from '../lru-ttl.js';
import type { ProviderAccount, ProviderName } from '../providers/types.js';

/** One provider's slot: the account, or a marker that its stored secret cannot be decrypted. */
export type CachedAccount = { account: ProviderAccount } | { undecryptable: true };

/** An organisation's accounts; a provider missing from the map has no account. */
export type OrgAccounts = ReadonlyMap<ProviderName, CachedAccount>;

export class AccountCache {
  private readonly lru: LRUCache<string, OrgAccounts>;
  private epoch = 0;

  constructor(opts: { max: number; ttlMs?: number }) {
    this.lru = new LRUCache({ max: opts.max, ttl: opts.ttlMs ?? 5 * 60_000, ttlResolution: TTL_RESOLUTION_MS });
  }

  /** The organisation's accounts, or undefined on a miss. */
  get(orgId: string): OrgAccounts | undefined {
    return this.lru.get(orgId);
  }

  /** The epoch to hand back to set() after a store lookup. */
  currentEpoch(): number {
    return this.epoch;
  }

  set(orgId: string, accounts: OrgAccounts, epoch: number): void {
    if (epoch === this.epoch) this.lru.set(orgId, accounts);
  }

  invalidateOrg(orgId: string): void {
    this.epoch++;
    this.lru.delete(orgId);
  }

  clear(): void {
    this.epoch++;
    this.lru.clear();
  }

  get size(): number {
    return this.lru.size;
  }
}
