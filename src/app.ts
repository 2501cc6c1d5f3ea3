/**
 * Composition root: `createApp(config, deps)` builds the whole object graph once. No module-level
 * state, so tests can build as many apps as they like. A request reads top to bottom:
 * http (auth hook) -> keys (who is calling, may they) -> routes -> store.
 */
import type { FastifyInstance } from 'fastify';
import type { DestinationStream, Logger } from 'pino';
import type { Config } from './config/index.js';
import { createLogger } from './logger.js';
import { openStore, type Store } from './store/index.js';
import { createHttpServer, type NotFoundFallback } from './http/server.js';
import { registerJsonParser } from './http/json-body.js';
import { createAuthHook } from './http/auth.js';
import { keyRoutes } from './http/routes/keys.js';
import { auditRoutes } from './http/routes/audit-events.js';
import { healthRoutes } from './http/routes/health.js';
import { createKeyHasher } from './keys/hash.js';
import { KeyCache } from './keys/cache.js';
import { LastUsedTracker } from './keys/last-used.js';
import { KeyService } from './keys/service.js';
import { MemoryFailureLimiter } from './limits/auth-failures.js';
import { ChangePoller } from './cluster/change-poller.js';
import { countRejection, createBus, metricsRoutes, observability, StoreHealth, type Metrics } from './cluster/index.js';
import { ProviderAccountService } from './accounts/service.js';
import { createCredentialCipher } from './accounts/crypto.js';
import { fetchProbe } from './accounts/probe.js';
import { providerRoutes } from './http/routes/providers.js';
import { createProviderRegistry } from './providers/registry.js';
import { ModelCatalog, type AccountResolver } from './gateway/catalog.js';
import { UpstreamClient } from './gateway/upstream.js';
import { fastPathRoutes, GATEWAY_PREFIXES, gatewayRoutes } from './gateway/routes.js';
import { GatewayFastPath } from './gateway/fast-path.js';
import { trustFunction } from './http/client-ip.js';
import type { UsageSink } from './metering/usage.js';
import { PriceTable } from './metering/prices.js';
import { UsageLedger } from './metering/ledger.js';
import { usageRoutes } from './http/routes/usage.js';
import { createLimiter, type Limiter, type RateLimitStore } from './limits/index.js';
import { SessionService } from './users/sessions.js';
import { UserService } from './users/service.js';
import { LoginThrottle } from './users/login-throttle.js';
import { sessionRoutes } from './http/routes/session.js';
import { memberRoutes } from './http/routes/members.js';
import { pricingRoutes } from './http/routes/pricing.js';
import { webRoutes } from './http/web.js';

export interface AppDeps {
  /** An already-open store (tests share one); otherwise opened from config.databaseUrl. */
  store?: Store;
  logger?: Logger;
  /** Where logs go when no logger is given (tests capture them). */
  logDestination?: DestinationStream;
  /** Receives one usage event per gateway request. */
  usage?: UsageSink;
  /** The organisations' own provider accounts (BYOK). */
  accounts?: AccountResolver;
  /** Counters for rate limits, budgets and quotas (default: Redis with REDIS_URL, else memory). */
  rateLimits?: RateLimitStore;
  /** The built dashboard to serve at `/` (default: dist/web at the package root). */
  webDir?: string;
}

export interface App {
  readonly config: Config;
  readonly http: FastifyInstance;
  readonly store: Store;
  readonly keys: KeyService;
  readonly logger: Logger;
  readonly changes: ChangePoller;
  readonly catalog: ModelCatalog;
  /** BYOK provider accounts (management, connection checks, and `resolve` for the gateway). */
  readonly providerAccounts: ProviderAccountService;
  /** The usage ledger: batched, write-behind usage rows (`stats()`, `flush()`). */
  readonly ledger: UsageLedger;
  /** Rate limits, budgets and plan quotas of the gateway. */
  readonly limiter: Limiter;
  /** Dashboard accounts: setup, sign-in, organisations, members, invites. */
  readonly users: UserService;
  /** Whether the store answers; bounds how long verified keys work during an outage. */
  readonly health: StoreHealth;
  /** Prometheus metrics (undefined when BACKBONE_METRICS=false). */
  readonly metrics: Metrics | undefined;
  /** Listen on config.host:config.port (or the given port); returns the base URL. */
  listen(port?: number): Promise<string>;
  /** Stop taking requests, finish those in flight, flush write-behind state, close the store. */
  close(): Promise<void>;
}

export async function createApp(config: Config, deps: AppDeps = {}): Promise<App> {
  const logger = deps.logger ?? createLogger(config.logLevel, deps.logDestination);
  const ownsStore = !deps.store;
  const store = deps.store ?? (await openStore(config.databaseUrl, {
    connectTimeoutMs: config.databaseTimeouts.connectMs, queryTimeoutMs: config.databaseTimeouts.queryMs, checkpointThread: { log: logger },
  }));
  await store.orgs.ensureDefault();

  const cache = new KeyCache({ max: config.auth.keyCacheSize });
  const lastUsed = new LastUsedTracker(store.keys, config.auth.lastUsedFlushSeconds * 1000, (err) =>
    logger.warn({ err: (err as Error).message }, 'last_used_at flush failed; will retry'));
  const health = new StoreHealth(store.db, config.auth.storeOutageGraceSeconds * 1000, logger);
  const keys = new KeyService({ store, hasher: createKeyHasher(config.secret), cache, lastUsed, outage: health });
  const failures = new MemoryFailureLimiter(config.auth.failureLimit, config.auth.failureWindowSeconds * 1000);
  const registry = createProviderRegistry();
  const providerAccounts = new ProviderAccountService({ store, cipher: createCredentialCipher(config.secret), adapters: (name) => registry[name] });
  const changes = new ChangePoller(store.changes, (c) => {
    if (c.kind === 'key') cache.invalidateKey(c.targetId);
    else if (c.kind === 'provider') providerAccounts.invalidateOrg(c.targetId);
    else if (c.kind === 'org') limiter.invalidateOrg(c.targetId);
  }, config.auth.invalidationPollMs, logger, createBus(config), config.auth.invalidationSafetyPollMs);
  // A change committed here: wake every other instance (Redis publish; PostgreSQL NOTIFYs by trigger).
  store.changes.onAppended(() => changes.published());

  const accounts: AccountResolver = deps.accounts ?? providerAccounts;
  const catalog = new ModelCatalog(config, registry, accounts);
  const upstream = new UpstreamClient(config.upstream);
  const ledger = new UsageLedger(store.usage, logger, { queueMax: config.usage.queueMax, retentionDays: config.usage.retentionDays });
  const prices = new PriceTable(config.prices);
  const limiter = await createLimiter(config, { store, prices, log: logger, counters: deps.rateLimits });
  const { metrics, readiness } = observability({
    config, health, changes, counters: limiter.store,
    sources: { usageQueue: () => ledger.stats(), keyCache: () => ({ size: cache.size, hits: cache.hits, misses: cache.misses }) },
  });
  const usage: UsageSink = metrics ? metrics.wrapSink(deps.usage ?? ledger) : deps.usage ?? ledger;

  const sessions = new SessionService(store, config.secret, config.dashboard.sessionTtlHours * 3_600_000);
  const users = new UserService({
    store, secret: config.secret, inviteTtlMs: config.dashboard.inviteTtlHours * 3_600_000,
    throttle: new LoginThrottle(config.dashboard.loginFailureLimit, config.dashboard.loginFailureWindowSeconds * 1000),
  });

  // The dashboard's SPA fallback, filled in once its static files are registered.
  const notFoundFallback: NotFoundFallback = {};
  const gatewayDeps = { catalog, upstream, usage, prices, limiter, log: logger };
  // Chat and embeddings straight from node:http (gateway/fast-path.ts); the rest through Fastify.
  const fastPath = new GatewayFastPath({
    auth: { keys, failures }, limiter, trust: trustFunction(config.trustProxy), log: logger, maxBodyBytes: config.maxBodyBytes,
    onError: metrics ? (err) => countRejection(metrics, err) : undefined,
  }, GATEWAY_PREFIXES, fastPathRoutes(gatewayDeps));
  const http = createHttpServer({ logger, trustProxy: config.trustProxy, notFoundFallback, fastPath });
  registerJsonParser(http);
  healthRoutes(http, store.db, () => ledger.stats(), readiness);
  if (metrics) metricsRoutes(http, metrics, config.metrics.token);
  const authenticate = createAuthHook({ keys, failures });
  // Management routes also accept a dashboard session cookie; the gateway below takes keys only.
  const authenticateWithSessions = createAuthHook({ keys, failures, sessions });
  await http.register(async (api) => {
    api.decorateRequest('auth', null as never);
    api.addHook('onRequest', authenticateWithSessions);
    keyRoutes(api, keys);
    usageRoutes(api, store.usage);
    providerRoutes(api, providerAccounts, fetchProbe);
    auditRoutes(api, store.audit);
    sessionRoutes(api, { users, sessions });
    memberRoutes(api, { users, orgs: store.orgs, plans: config.plans });
    pricingRoutes(api, { catalog, prices, orgs: limiter.orgs });
  }, { prefix: '/api/v1' });
  // The OpenAI-compatible gateway, also under /v1 for tools that assume OpenAI's paths.
  for (const prefix of GATEWAY_PREFIXES) {
    await http.register(async (api) => {
      api.decorateRequest('auth', null as never);
      api.addHook('onRequest', authenticate);
      await gatewayRoutes(api, gatewayDeps);
    }, { prefix });
  }

  notFoundFallback.handle = await webRoutes(http, deps.webDir);

  await changes.start();
  health.start();
  lastUsed.start();
  await ledger.start();

  let closed: Promise<void> | undefined;
  return {
    config, http, store, keys, logger, changes, catalog, providerAccounts, ledger, limiter, users, health, metrics,
    async listen(port = config.port) {
      return http.listen({ port, host: config.host });
    },
    close() {
      closed ??= (async () => {
        changes.stop();
        // A connection whose request finishes after close() began would stay open as keep-alive and
        // hold close() for Fastify's 72 s keep-alive timeout (past the shutdown deadline, so nothing
        // queued would be flushed): close each one as soon as it goes idle.
        const reap = setInterval(() => http.server.closeIdleConnections(), 50);
        await http.close().finally(() => clearInterval(reap));
        // Settlements of the requests that just finished, then the counter store (Redis).
        await limiter.close();
        // After the server: requests in flight have finished and recorded their usage.
        await ledger.stop();
        await upstream.close();
        await lastUsed.stop();
        await changes.close();
        health.stop();
        if (ownsStore) await store.close();
      })();
      return closed;
    },
  };
}
