/**
 * What several instances need from each instance, built once by the composition root: the
 * invalidation bus, store health (outage grace), metrics, and the readiness detail that shows them.
 */
import cluster from 'node:cluster';
import type { FastifyInstance } from 'fastify';
import { IpcBus, IpcRateLimitStore } from './ipc.js';
import type { Config } from '../config/index.js';
import { ApiError, errorEnvelope } from '../errors.js';
import type { ReadinessDetail } from '../http/routes/health.js';
import type { ChangePoller } from './change-poller.js';
import { clusterMetrics, Metrics, type MetricSources } from './metrics.js';
import { PgBus, PollBus, RedisBus, type InvalidationBus } from './notifier.js';
import type { StoreHealth } from './store-health.js';
import type { RateLimitStore } from '../limits/store.js';
import { FailoverRateLimitStore } from '../limits/failover-store.js';

export { ChangePoller } from './change-poller.js';
export { StoreHealth } from './store-health.js';
export { Metrics } from './metrics.js';

/** The configured invalidation bus: Redis pub/sub with REDIS_URL, else PostgreSQL NOTIFY, else polling. */
export function createBus(config: Config): InvalidationBus {
  const kind = config.auth.invalidationBus === 'auto'
    ? (config.redisUrl ? 'redis' : config.databaseKind === 'postgres' ? 'postgres' : 'poll')
    : config.auth.invalidationBus;
  if (kind === 'redis' && config.redisUrl) return new RedisBus(config.redisUrl, config.redisPrefix, config.limits.redisTimeoutMs);
  if (kind === 'postgres' && config.databaseKind === 'postgres') return new PgBus(config.databaseUrl);
  // Workers on SQLite: the primary relays wake-ups between them; the short poll stays on.
  if (cluster.isWorker && process.send) return new IpcBus();
  return new PollBus();
}

/** Where limits are counted, for /readyz. */
export function limitsState(counters: RateLimitStore): Record<string, unknown> {
  if (counters instanceof FailoverRateLimitStore) {
    const s = counters.state();
    return { store: s.store, mode: s.mode, since: s.since === null ? null : new Date(s.since).toISOString(), pending_settlements: s.pending };
  }
  if (counters instanceof IpcRateLimitStore) return { store: 'memory', mode: 'shared_by_workers' };
  return { store: counters.kind, mode: counters.kind === 'memory' ? 'per_instance' : 'shared' };
}

export interface ObservabilityParts {
  config: Config;
  health: StoreHealth;
  changes: ChangePoller;
  counters: RateLimitStore;
  sources: Pick<MetricSources, 'usageQueue' | 'keyCache'>;
}

/** Metrics (when enabled) wired to the states they report, and the /readyz detail. */
export function observability(p: ObservabilityParts): { metrics: Metrics | undefined; readiness: ReadinessDetail } {
  const failover = p.counters instanceof FailoverRateLimitStore ? p.counters : undefined;
  let metrics: Metrics | undefined;
  if (p.config.metrics.enabled) {
    metrics = new Metrics({
      ...p.sources,
      storeUp: () => (p.health.reachable ? 1 : 0),
      limitsShared: () => (failover ? (failover.state().mode === 'shared' ? 1 : 0) : 1),
      invalidationPush: () => (p.changes.state().mode === 'push' ? 1 : 0),
    });
    const m = metrics;
    failover?.onChange((s) => { if (s.mode === 'local') m.limitFallbacks.inc(); });
    let drops = 0;
    p.changes.onState((s) => { if (s.drops > drops) { m.invalidationDrops.inc(s.drops - drops); drops = s.drops; } });
  }
  const readiness: ReadinessDetail = {
    checkStore: () => p.health.check(),
    storeState: () => p.health.state(),
    checks: () => {
      const inv = p.changes.state();
      return {
        limits: limitsState(p.counters),
        invalidation: { ...inv, down_since: inv.down_since === null ? null : new Date(inv.down_since).toISOString() },
      };
    },
  };
  return { metrics, readiness };
}

/** Count an error answered to a client if it is a limit refusal. */
export function countRejection(metrics: Metrics, err: Error): void {
  if (err instanceof ApiError && (err.code === 'rate_limit_exceeded' || err.code === 'insufficient_quota')) metrics.rejected(err.code);
}

/** GET /metrics (Prometheus text), and the count of limit refusals (before routes are registered). */
export function metricsRoutes(http: FastifyInstance, metrics: Metrics, token: string | undefined): void {
  http.addHook('onError', (_request, _reply, err, done) => {
    countRejection(metrics, err);
    done();
  });
  http.get('/metrics', async (request, reply) => {
    if (token !== undefined && request.headers.authorization !== `Bearer ${token}`) {
      reply.code(401);
      return errorEnvelope('invalid_api_key', 'The metrics token is missing or wrong');
    }
    const text = await clusterMetrics(metrics.registry);
    reply.header('content-type', metrics.registry.contentType);
    return text;
  });
}

export { PollBus };
