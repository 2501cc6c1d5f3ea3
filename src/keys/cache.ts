/**
 * The hot-key cache: verification of a known key makes no database round trip.
 *
 * - Keyed by the secret's HMAC hash, never by the raw secret; bounded (LRU) with a TTL as a
 *   safety net behind explicit invalidation.
 * - Unknown-but-well-formed secrets are cached negatively in a separate, smaller LRU so a flood of
 *   random keys can neither hammer the store nor evict the hot positive entries. (A negative entry
 *   can never hide a key created later: a new key's hash is unknowable before it is created.)
 * - `invalidateKey` drops every secret of a key (a rotated key has two) and bumps an epoch, so a
 *   lookup that was in flight while the key changed does not re-insert what it read before.
 */
import { LRUCache } from 'lru-cache';
import { TTL_RESOLUTION_MS } from '../lru-ttl.js';
import type { KeyLookup } from './types.js';

export interface CachedKey extends KeyLookup {
  /** Compiled IP allow-list, or null when any address may use the key. */
  ipCheck: ((ip: string) => boolean) | null;
}

export class KeyCache {
  private readonly positive: LRUCache<string, CachedKey>;
  private readonly negative: LRUCache<string, true>;
  private readonly hashesByKey = new Map<string, Set<string>>();
  private epoch = 0;
  /** Verifications answered from memory / that needed the store (metrics). */
  hits = 0;
  misses = 0;

  constructor(opts: { max: number; ttlMs?: number; negativeTtlMs?: number }) {
    this.positive = new LRUCache<string, CachedKey>({
      max: opts.max,
      ttl: opts.ttlMs ?? 5 * 60_000,
      // An expired entry stays until evicted, so it can serve during a store outage (getStale).
      noDeleteOnStaleGet: true,
      ttlResolution: TTL_RESOLUTION_MS,
      dispose: (value, hash) => {
        const set = this.hashesByKey.get(value.key.id);
        if (set) {
          set.delete(hash);
          if (set.size === 0) this.hashesByKey.delete(value.key.id);
        }
      },
    });
    this.negative = new LRUCache<string, true>({ max: Math.max(100, Math.floor(opts.max / 4)), ttl: opts.negativeTtlMs ?? 60_000, ttlResolution: TTL_RESOLUTION_MS });
  }

  /** A cached key, `null` for a known-unknown secret, `undefined` on a miss. */
  get(hash: string): CachedKey | null | undefined {
    const hit = this.positive.get(hash);
    if (hit) { this.hits++; return hit; }
    if (this.negative.get(hash)) { this.hits++; return null; }
    this.misses++;
    return undefined;
  }

  /** An entry past its TTL (not invalidated): what a store outage may fall back on. */
  getStale(hash: string): CachedKey | undefined {
    return this.positive.get(hash, { allowStale: true });
  }

  /** The epoch to hand back to set()/setMissing() after a store lookup. */
  currentEpoch(): number {
    return this.epoch;
  }

  set(hash: string, value: CachedKey, epoch: number): void {
    if (epoch !== this.epoch) return;
    this.positive.set(hash, value);
    let set = this.hashesByKey.get(value.key.id);
    if (!set) this.hashesByKey.set(value.key.id, (set = new Set()));
    set.add(hash);
  }

  setMissing(hash: string, epoch: number): void {
    if (epoch === this.epoch) this.negative.set(hash, true);
  }

  invalidateKey(keyId: string): void {
    this.epoch++;
    const set = this.hashesByKey.get(keyId);
    if (!set) return;
    for (const hash of [...set]) this.positive.delete(hash);
    this.hashesByKey.delete(keyId);
  }

  clear(): void {
    this.epoch++;
    this.positive.clear();
    this.negative.clear();
    this.hashesByKey.clear();
  }

  get size(): number {
    return this.positive.size;
  }
}
