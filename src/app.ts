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
import { createHttpServer } from './http/server.js';
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
import { ProviderAccountService } from './accounts/service.js';
import { createCredentialCipher } from './accounts/crypto.js';
import { fetchProbe } from './accounts/probe.js';
import { providerRoutes } from './http/routes/providers.js';
import { createProviderRegistry } from './providers/registry.js';
import { ModelCatalog, type AccountResolver } from './gateway/catalog.js';
import { UpstreamClient } from './gateway/upstream.js';
import { gatewayRoutes } from './gateway/routes.js';
import type { UsageSink } from './metering/usage.js';
import { PriceTable } from './metering/prices.js';

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
  /** Listen on config.host:config.port (or the given port); returns the base URL. */
  listen(port?: number): Promise<string>;
  /** Stop taking requests, finish those in flight, flush write-behind state, close the store. */
  close(): Promise<void>;
}

export async function createApp(config: Config, deps: AppDeps = {}): Promise<App> {
  const logger = deps.logger ?? createLogger(config.logLevel, deps.logDestination);
  const ownsStore = !deps.store;
  const store = deps.store ?? (await openStore(config.databaseUrl));
  await store.orgs.ensureDefault();

  const cache = new KeyCache({ max: config.auth.keyCacheSize });
  const lastUsed = new LastUsedTracker(store.keys, config.auth.lastUsedFlushSeconds * 1000, (err) =>
    logger.warn({ err: (err as Error).message }, 'last_used_at flush failed; will retry'));
  const keys = new KeyService({ store, hasher: createKeyHasher(config.secret), cache, lastUsed });
  const failures = new MemoryFailureLimiter(config.auth.failureLimit, config.auth.failureWindowSeconds * 1000);
  const registry = createProviderRegistry();
  const providerAccounts = new ProviderAccountService({ store, cipher: createCredentialCipher(config.secret), adapters: (name) => registry[name] });
  const changes = new ChangePoller(store.changes, (c) => {
    if (c.kind === 'key') cache.invalidateKey(c.targetId);
    else if (c.kind === 'provider') providerAccounts.invalidateOrg(c.targetId);
  }, config.auth.invalidationPollMs, logger);

  const accounts: AccountResolver = deps.accounts ?? providerAccounts;
  const catalog = new ModelCatalog(config, registry, accounts);
  const upstream = new UpstreamClient(config.upstream);
  const usage: UsageSink = deps.usage ?? { record: () => {} };
  const prices = new PriceTable(config.prices);

  const http = createHttpServer({ logger, trustProxy: config.trustProxy });
  registerJsonParser(http);
  healthRoutes(http, store.db);
  const authenticate = createAuthHook({ keys, failures });
  await http.register(async (api) => {
    api.decorateRequest('auth', null as never);
    api.addHook('onRequest', authenticate);
    keyRoutes(api, keys);
    providerRoutes(api, providerAccounts, fetchProbe);
    auditRoutes(api, store.audit);
  }, { prefix: '/api/v1' });
  // The OpenAI-compatible gateway, also under /v1 for tools that assume OpenAI's paths.
  for (const prefix of ['/api/v1', '/v1']) {
    await http.register(async (api) => {
      api.decorateRequest('auth', null as never);
      api.addHook('onRequest', authenticate);
      await gatewayRoutes(api, { catalog, upstream, usage, prices, log: logger, maxBodyBytes: config.maxBodyBytes });
    }, { prefix });
  }

  await changes.start();
  lastUsed.start();

  let closed: Promise<void> | undefined;
  return {
    config, http, store, keys, logger, changes, catalog, providerAccounts,
    async listen(port = config.port) {
      return http.listen({ port, host: config.host });
    },
    close() {
      closed ??= (async () => {
        changes.stop();
        await http.close();
        await upstream.close();
        await lastUsed.stop();
        if (ownsStore) await store.close();
      })();
      return closed;
    },
  };
}
