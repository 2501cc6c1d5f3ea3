/**
 * Brute-force guard: counts failed authentications per client address in a fixed window and
 * refuses further attempts from that address (429) until the window ends. Bounded memory (LRU).
 * Per process for now; a shared implementation behind the same interface comes with Redis.
 */
import { LRUCache } from 'lru-cache';
import { TTL_RESOLUTION_MS } from '../lru-ttl.js';

export interface FailureLimiter {
  /** Seconds until the address may try again, or 0 when it may try now. */
  blockedFor(address: string, now?: number): number;
  recordFailure(address: string, now?: number): void;
}

export class MemoryFailureLimiter implements FailureLimiter {
  private readonly windows: LRUCache<string, { start: number; count: number }>;

  constructor(private readonly limit: number, private readonly windowMs: number) {
    this.windows = new LRUCache({ max: 100_000, ttl: windowMs, ttlResolution: TTL_RESOLUTION_MS });
  }

  blockedFor(address: string, now = Date.now()): number {
    const w = this.windows.get(address);
    if (!w || w.count < this.limit || now - w.start >= this.windowMs) return 0;
    return Math.max(1, Math.ceil((w.start + this.windowMs - now) / 1000));
  }

  recordFailure(address: string, now = Date.now()): void {
    const w = this.windows.get(address);
    if (!w || now - w.start >= this.windowMs) this.windows.set(address, { start: now, count: 1 });
    else w.count++;
  }
}
