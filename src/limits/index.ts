/**
 * Builds the limiter for the composition root: counters in Redis when REDIS_URL is set, else in
 * PostgreSQL when that is the store (both shared by every instance, each behind a fail-over to this
 * instance's memory while it is unreachable), else in this process's memory (SQLite: one machine;
 * budgets and quotas restart from the usage ledger). `BACKBONE_LIMITS_STORE` can force a choice.
 */
import cluster from 'node:cluster';
import type { Config } from '../config/index.js';
import { IpcRateLimitStore } from '../cluster/ipc.js';
import type { PriceTable } from '../metering/prices.js';
import type { Store } from '../store/index.js';
import { SqlLedgerTotals } from './ledger-seed.js';
import { Limiter } from './limiter.js';
import { MemoryRateLimitStore } from './memory-store.js';
import { PlanBook } from './plans.js';
import { RedisRateLimitStore } from './redis-store.js';
import { PgRateLimitStore } from './pg-store.js';
import { FailoverRateLimitStore, type SharedStore } from './failover-store.js';
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
  const choice = config.limits.store === 'auto'
    ? (config.redisUrl ? 'redis' : config.databaseKind === 'postgres' ? 'postgres' : 'memory')
    : config.limits.store;
  if (!counters && choice !== 'memory') {
    let shared: SharedStore;
    let up = true;
    if (choice === 'redis') {
      if (!config.redisUrl) throw new Error('BACKBONE_LIMITS_STORE=redis needs REDIS_URL');
      // No offline queue and a short command timeout: a request never waits on a Redis that is away.
      const redis = new RedisRateLimitStore(config.redisUrl, config.redisPrefix, { enableOfflineQueue: false, commandTimeout: config.limits.redisTimeoutMs });
      up = await redis.ready(2000);
      shared = redis;
    } else {
      if (parts.store.db.dialect !== 'postgres') throw new Error('BACKBONE_LIMITS_STORE=postgres needs a PostgreSQL DATABASE_URL');
      shared = new PgRateLimitStore(parts.store.db.kysely);
    }
    const failover = new FailoverRateLimitStore(shared, new MemoryRateLimitStore(), { log: parts.log, probeMs: config.limits.probeMs });
    if (!up) failover.toLocal(new Error(`${choice} did not answer at start`));
    counters = failover;
  }
  // Workers of `serve --workers N` without a shared store count in their primary: one set of limits.
  if (!counters && cluster.isWorker && process.send) counters = new IpcRateLimitStore();
  counters ??= new MemoryRateLimitStore();
  if (counters.kind === 'memory' && !(counters instanceof IpcRateLimitStore)) {
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
export { FailoverRateLimitStore } from './failover-store.js';
export type { RateLimitStore } from './store.js';
