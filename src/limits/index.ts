/**
 * Builds the limiter for the composition root: counters in Redis when REDIS_URL is set (shared by
 * every instance), else in this process's memory (per process; budgets and quotas restart from the
 * usage ledger), the plans in force, and the organisation loader.
 */
import type { Config } from '../config/index.js';
import type { PriceTable } from '../metering/prices.js';
import type { Store } from '../store/index.js';
import { SqlLedgerTotals } from './ledger-seed.js';
import { Limiter } from './limiter.js';
import { MemoryRateLimitStore } from './memory-store.js';
import { PlanBook } from './plans.js';
import { RedisRateLimitStore } from './redis-store.js';
import type { RateLimitStore } from './store.js';

export interface LimiterParts {
  store: Store;
  prices: PriceTable;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void };
  /** A counter store to use instead of the configured one (tests). */
  counters?: RateLimitStore;
}

export async function createLimiter(config: Config, parts: LimiterParts): Promise<Limiter> {
  let counters = parts.counters;
  if (!counters && config.redisUrl) {
    const redis = new RedisRateLimitStore(config.redisUrl, config.redisPrefix);
    if (!(await redis.ready())) parts.log.warn({}, 'Redis did not answer at start; requests are let through without limits until it does');
    counters = redis;
  }
  counters ??= new MemoryRateLimitStore();
  if (counters.kind === 'memory') {
    parts.log.info({}, 'rate limits and budgets are counted in this process only (set REDIS_URL to share them across instances)');
  }
  return new Limiter({
    store: counters,
    plans: new PlanBook(config.plans, parts.log),
    loadOrg: (id) => parts.store.orgs.byId(id),
    ledger: new SqlLedgerTotals(parts.store.db.kysely),
    prices: parts.prices,
    log: parts.log,
  });
}

export type { Limiter } from './limiter.js';
export type { RateLimitStore } from './store.js';
