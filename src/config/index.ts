/**
 * The one place that reads `process.env` and the optional YAML file (`BACKBONE_CONFIG`).
 * Everything is validated at start-up, every problem is listed at once, and the result is frozen
 * and injected into `createApp`. Environment variables win over the YAML file.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { ProviderName } from '../providers/types.js';
import type { Price } from '../metering/prices.js';
import { availableParallelism } from 'node:os';
import { parsePlans, type Plan } from '../limits/plans.js';

export type Env = Record<string, string | undefined>;

const PROVIDERS = ['openai', 'azure-openai', 'anthropic', 'vertex-ai', 'ollama'] as const satisfies readonly ProviderName[];

const providerSchema = z.object({
  api_key: z.string().min(1).optional(),
  base_url: z.url().optional(),
}).strict();

/** The YAML file's shape (snake_case, like the environment variables). */
const fileSchema = z.object({
  port: z.number().int().optional(),
  host: z.string().optional(),
  data_dir: z.string().optional(),
  database_url: z.string().optional(),
  db_connect_timeout_ms: z.number().int().optional(),
  db_query_timeout_ms: z.number().int().optional(),
  redis_url: z.string().optional(),
  redis_prefix: z.string().optional(),
  secret: z.string().optional(),
  log_level: z.string().optional(),
  trust_proxy: z.union([z.boolean(), z.string(), z.number()]).optional(),
  auth: z.object({
    key_cache_size: z.number().int().optional(),
    failure_limit: z.number().int().optional(),
    failure_window_seconds: z.number().int().optional(),
    last_used_flush_seconds: z.number().optional(),
    invalidation_poll_ms: z.number().int().optional(),
    invalidation_safety_poll_ms: z.number().int().optional(),
    invalidation_bus: z.string().optional(),
    store_outage_grace_seconds: z.number().int().optional(),
  }).strict().optional(),
  limits: z.object({
    store: z.string().optional(),
    redis_timeout_ms: z.number().int().optional(),
    probe_ms: z.number().int().optional(),
  }).strict().optional(),
  workers: z.number().int().optional(),
  metrics: z.union([z.boolean(), z.string()]).optional(),
  metrics_token: z.string().optional(),
  providers: z.object({
    openai: providerSchema.optional(),
    anthropic: providerSchema.optional(),
    'azure-openai': z.object({ api_key: z.string().optional(), endpoint: z.url().optional(), api_version: z.string().optional() }).strict().optional(),
    'vertex-ai': z.object({
      api_key: z.string().optional(), base_url: z.url().optional(),
      service_account_file: z.string().optional(), project: z.string().optional(), location: z.string().optional(),
    }).strict().optional(),
    ollama: z.object({ base_url: z.url().optional() }).strict().optional(),
  }).strict().optional(),
  /** Platform models by bare name: aliases, explicit provider, upstream name and fallbacks. */
  models: z.array(z.object({
    name: z.string().min(1).max(200),
    provider: z.enum(PROVIDERS),
    upstream: z.string().min(1).max(200).optional(),
    fallbacks: z.array(z.string().min(1).max(200)).max(10).optional(),
  }).strict()).max(10_000).optional(),
  upstream: z.object({
    connect_timeout_ms: z.number().int().optional(),
    first_byte_timeout_ms: z.number().int().optional(),
    idle_timeout_ms: z.number().int().optional(),
    max_retries: z.number().int().optional(),
  }).strict().optional(),
  max_body_mb: z.number().optional(),
  dashboard: z.object({
    session_ttl_hours: z.number().int().optional(),
    login_failure_limit: z.number().int().optional(),
    login_failure_window_seconds: z.number().int().optional(),
    invite_ttl_hours: z.number().int().optional(),
  }).strict().optional(),
  usage: z.object({
    queue_max: z.number().int().optional(),
    retention_days: z.number().int().optional(),
  }).strict().optional(),
  /** Price overrides and additions (USD per 1M tokens; per minute of audio), versioned by date. */
  prices: z.array(z.object({
    provider: z.enum(PROVIDERS),
    model: z.string().min(1).max(200),
    effective_from: z.union([z.string(), z.date()]).optional(),
    input: z.number().min(0),
    output: z.number().min(0),
    cached_input: z.number().min(0).optional(),
    cache_write: z.number().min(0).optional(),
    audio_per_minute: z.number().min(0).optional(),
  }).strict()).max(10_000).optional(),
  // `plans:` is validated by limits/plans.ts (parsePlans, below), its problems listed with the rest.
}).passthrough();

export interface PlatformModel {
  /** The bare name clients send. */
  name: string;
  provider: ProviderName;
  /** The name sent upstream (Azure: the deployment); defaults to `name`. */
  upstream: string;
  /** Platform model names tried in order when this one fails before any byte reached the client. */
  fallbacks: string[];
}

export interface PlatformProviders {
  openai?: { apiKey: string; baseUrl?: string };
  anthropic?: { apiKey: string; baseUrl?: string };
  azureOpenai?: { apiKey: string; endpoint: string; apiVersion?: string };
  vertexAi?: { apiKey?: string; baseUrl?: string; serviceAccountJson?: string; project?: string; location?: string };
  ollama?: { baseUrl: string };
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** `postgres://...` or a SQLite file path (`:memory:` for tests). */
  readonly databaseUrl: string;
  /** PostgreSQL: longest wait for a connection and for one query's answer, so an unreachable or
   *  hung store fails fast (503) instead of holding requests. */
  readonly databaseTimeouts: { readonly connectMs: number; readonly queryMs: number };
  readonly databaseKind: 'sqlite' | 'postgres';
  readonly redisUrl?: string;
  /** Prepended to every Redis key, so several deployments (or test runs) can share one Redis. */
  readonly redisPrefix: string;
  /** The plans in force: the built-in ones with the config file's `plans:` on top. */
  readonly plans: readonly Plan[];
  /** Pepper for key hashes and key for encrypting provider credentials. Never logged. */
  readonly secret: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Passed to Fastify: false, true, a hop count, or a list of trusted proxy addresses/CIDRs. */
  readonly trustProxy: boolean | number | string;
  readonly auth: {
    /** Entries in the hot-key cache (per process). */
    readonly keyCacheSize: number;
    /** Failed authentications per client address per window before 429. */
    readonly failureLimit: number;
    readonly failureWindowSeconds: number;
    readonly lastUsedFlushSeconds: number;
    /** How often each process polls the store for key changes made elsewhere (CLI, other nodes) when no notification channel is up. */
    readonly invalidationPollMs: number;
    /** The safety-net poll while a notification channel (Redis pub/sub, PostgreSQL LISTEN) is up. */
    readonly invalidationSafetyPollMs: number;
    /** How other instances are woken after a change: `auto` = Redis with REDIS_URL, else PostgreSQL NOTIFY, else polling. */
    readonly invalidationBus: 'auto' | 'redis' | 'postgres' | 'poll';
    /** How long keys already verified keep working while the store is unreachable (from when it became unreachable). */
    readonly storeOutageGraceSeconds: number;
  };
  /** Where rate limits, concurrency, budgets and quotas are counted. */
  readonly limits: {
    /** `auto` = Redis with REDIS_URL, else PostgreSQL when that is the store, else memory. */
    readonly store: 'auto' | 'memory' | 'redis' | 'postgres';
    /** Longest wait for one Redis command before the instance falls back to counting locally. */
    readonly redisTimeoutMs: number;
    /** How often an instance counting locally checks whether the shared store is back. */
    readonly probeMs: number;
  };
  /** Worker processes for `backbone serve` (default: one per core; 1 = a single process). */
  readonly workers: number;
  readonly metrics: {
    /** Serve Prometheus metrics at GET /metrics. */
    readonly enabled: boolean;
    /** When set, /metrics needs `Authorization: Bearer <token>`. Never logged. */
    readonly token?: string;
  };
  readonly providers: PlatformProviders;
  /** Platform models declared in the YAML file (defaults per configured provider come on top). */
  readonly models: readonly PlatformModel[];
  readonly upstream: {
    readonly connectTimeoutMs: number;
    /** Until the response headers arrive (for non-streamed calls: the whole generation). */
    readonly firstByteTimeoutMs: number;
    /** Longest silence between two chunks of a streamed response. */
    readonly idleTimeoutMs: number;
    /** Retries before the first byte reached the client (connection errors, 408, 409, 429, 5xx). */
    readonly maxRetries: number;
  };
  /** Price overrides (the built-in list prices come on top). */
  readonly prices: readonly Price[];
  /** Largest JSON request body accepted on gateway routes. */
  readonly maxBodyBytes: number;
  readonly usage: {
    /** Usage rows that may wait in memory for the store; beyond it the oldest are dropped (and counted). */
    readonly queueMax: number;
    /** Days of usage kept (whole months are removed); 0 keeps everything. */
    readonly retentionDays: number;
  };
  /** The web dashboard's accounts. */
  readonly dashboard: {
    /** How long a sign-in lasts. */
    readonly sessionTtlHours: number;
    /** Wrong passwords per email and client address per window before sign-in answers 429. */
    readonly loginFailureLimit: number;
    readonly loginFailureWindowSeconds: number;
    /** How long an invite link stays usable. */
    readonly inviteTtlHours: number;
  };
  /** The raw YAML document, for modules that own their own sections. */
  readonly file: Readonly<Record<string, unknown>>;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export interface LoadOptions {
  /** Working directory for relative paths (default process.cwd()). */
  cwd?: string;
  /** Generate and persist BACKBONE_SECRET into the data folder when missing (SQLite only). Default true. */
  generateSecret?: boolean;
}

/** Read, validate and freeze the configuration. Throws ConfigError listing every problem. */
export function loadConfig(env: Env = process.env, opts: LoadOptions = {}): Config {
  const cwd = opts.cwd ?? process.cwd();
  const problems: string[] = [];

  let file: z.infer<typeof fileSchema> = {};
  let rawFile: Record<string, unknown> = {};
  if (env.BACKBONE_CONFIG) {
    const path = resolve(cwd, env.BACKBONE_CONFIG);
    try {
      const doc = parseYaml(readFileSync(path, 'utf8')) ?? {};
      rawFile = typeof doc === 'object' && doc !== null ? doc as Record<string, unknown> : {};
      const parsed = fileSchema.safeParse(doc);
      if (parsed.success) file = parsed.data;
      else for (const i of parsed.error.issues) problems.push(`${env.BACKBONE_CONFIG}: ${i.path.join('.') || '(root)'}: ${i.message}`);
    } catch (err) {
      problems.push(`BACKBONE_CONFIG: cannot read ${path}: ${(err as Error).message}`);
    }
  }

  const int = (name: string, raw: string | number | undefined, def: number, min: number, max: number): number => {
    if (raw === undefined || raw === '') return def;
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(raw)})`);
      return def;
    }
    return n;
  };
  function oneOf<T extends string>(name: string, raw: string | undefined, allowed: readonly T[], def: T): T {
    if (raw === undefined || raw === '') return def;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    problems.push(`${name} must be one of ${allowed.join(', ')} (got ${JSON.stringify(raw)})`);
    return def;
  }
  const url = (name: string, raw: string | undefined): string | undefined => {
    if (!raw) return undefined;
    try {
      const u = new URL(raw);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
      return raw.replace(/\/+$/, '');
    } catch {
      problems.push(`${name} must be an http(s) URL (got ${JSON.stringify(raw)})`);
      return undefined;
    }
  };

  const port = int('PORT', env.PORT ?? file.port, 8080, 0, 65535);
  const host = env.HOST ?? file.host ?? '127.0.0.1';
  const dataDir = resolve(cwd, env.BACKBONE_DATA_DIR ?? file.data_dir ?? 'data');
  const databaseUrl = env.DATABASE_URL ?? file.database_url ?? join(dataDir, 'backbone.db');
  const databaseKind = /^postgres(ql)?:\/\//.test(databaseUrl) ? 'postgres' : 'sqlite';
  const databaseTimeouts = {
    connectMs: int('BACKBONE_DB_CONNECT_TIMEOUT_MS', env.BACKBONE_DB_CONNECT_TIMEOUT_MS ?? file.db_connect_timeout_ms, 5_000, 100, 600_000),
    queryMs: int('BACKBONE_DB_QUERY_TIMEOUT_MS', env.BACKBONE_DB_QUERY_TIMEOUT_MS ?? file.db_query_timeout_ms, 30_000, 100, 3_600_000),
  };
  if (/^[a-z]+:\/\//i.test(databaseUrl) && databaseKind !== 'postgres') {
    problems.push(`DATABASE_URL must be a SQLite file path or a postgres:// URL (got a ${databaseUrl.split(':')[0]}: URL)`);
  }
  const redisUrl = env.REDIS_URL ?? file.redis_url;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) problems.push('REDIS_URL must start with redis:// or rediss://');
  const redisPrefix = env.BACKBONE_REDIS_PREFIX ?? file.redis_prefix ?? 'backbone:';
  if (!/^[\w:.-]{0,64}$/.test(redisPrefix)) problems.push('BACKBONE_REDIS_PREFIX must be at most 64 letters, digits, or _ : . -');
  const plans = parsePlans(rawFile.plans, problems);

  const logLevel = (env.LOG_LEVEL ?? file.log_level ?? 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);

  const tpRaw = env.BACKBONE_TRUST_PROXY ?? file.trust_proxy;
  let trustProxy: boolean | number | string = false;
  if (tpRaw !== undefined && tpRaw !== '') {
    if (tpRaw === true || tpRaw === 'true') trustProxy = true;
    else if (tpRaw === false || tpRaw === 'false') trustProxy = false;
    else if (typeof tpRaw === 'number' || /^\d+$/.test(String(tpRaw))) trustProxy = Number(tpRaw);
    else trustProxy = String(tpRaw);
  }

  const a = file.auth ?? {};
  const auth = {
    keyCacheSize: int('BACKBONE_KEY_CACHE_SIZE', env.BACKBONE_KEY_CACHE_SIZE ?? a.key_cache_size, 50_000, 100, 10_000_000),
    failureLimit: int('BACKBONE_AUTH_FAILURE_LIMIT', env.BACKBONE_AUTH_FAILURE_LIMIT ?? a.failure_limit, 30, 1, 1_000_000),
    failureWindowSeconds: int('BACKBONE_AUTH_FAILURE_WINDOW', env.BACKBONE_AUTH_FAILURE_WINDOW ?? a.failure_window_seconds, 60, 1, 86_400),
    lastUsedFlushSeconds: Number(env.BACKBONE_LAST_USED_FLUSH_SECONDS ?? a.last_used_flush_seconds ?? 5),
    invalidationPollMs: int('BACKBONE_INVALIDATION_POLL_MS', env.BACKBONE_INVALIDATION_POLL_MS ?? a.invalidation_poll_ms, 500, 50, 60_000),
    invalidationSafetyPollMs: int('BACKBONE_INVALIDATION_SAFETY_POLL_MS', env.BACKBONE_INVALIDATION_SAFETY_POLL_MS ?? a.invalidation_safety_poll_ms, 5000, 50, 600_000),
    invalidationBus: oneOf('BACKBONE_INVALIDATION_BUS', env.BACKBONE_INVALIDATION_BUS ?? a.invalidation_bus, ['auto', 'redis', 'postgres', 'poll'] as const, 'auto'),
    storeOutageGraceSeconds: int('BACKBONE_STORE_OUTAGE_GRACE_SECONDS', env.BACKBONE_STORE_OUTAGE_GRACE_SECONDS ?? a.store_outage_grace_seconds, 300, 0, 86_400),
  };
  const fl = file.limits ?? {};
  const limits = {
    store: oneOf('BACKBONE_LIMITS_STORE', env.BACKBONE_LIMITS_STORE ?? fl.store, ['auto', 'memory', 'redis', 'postgres'] as const, 'auto'),
    redisTimeoutMs: int('BACKBONE_REDIS_TIMEOUT_MS', env.BACKBONE_REDIS_TIMEOUT_MS ?? fl.redis_timeout_ms, 500, 10, 60_000),
    probeMs: int('BACKBONE_LIMITS_PROBE_MS', env.BACKBONE_LIMITS_PROBE_MS ?? fl.probe_ms, 1000, 50, 60_000),
  };
  if (limits.store === 'redis' && !redisUrl) problems.push('BACKBONE_LIMITS_STORE=redis needs REDIS_URL');
  if (limits.store === 'postgres' && databaseKind !== 'postgres') problems.push('BACKBONE_LIMITS_STORE=postgres needs a postgres:// DATABASE_URL');
  if (auth.invalidationBus === 'redis' && !redisUrl) problems.push('BACKBONE_INVALIDATION_BUS=redis needs REDIS_URL');
  if (auth.invalidationBus === 'postgres' && databaseKind !== 'postgres') problems.push('BACKBONE_INVALIDATION_BUS=postgres needs a postgres:// DATABASE_URL');
  const workers = int('BACKBONE_WORKERS', env.BACKBONE_WORKERS ?? file.workers, availableParallelism(), 1, 256);
  const metricsRaw = env.BACKBONE_METRICS ?? file.metrics;
  let metricsEnabled = true;
  if (metricsRaw !== undefined && metricsRaw !== '') {
    if (metricsRaw === true || metricsRaw === 'true' || metricsRaw === '1') metricsEnabled = true;
    else if (metricsRaw === false || metricsRaw === 'false' || metricsRaw === '0') metricsEnabled = false;
    else problems.push('BACKBONE_METRICS must be true or false');
  }
  const metricsToken = env.BACKBONE_METRICS_TOKEN ?? file.metrics_token;
  if (metricsToken !== undefined && metricsToken.length < 16) problems.push('BACKBONE_METRICS_TOKEN must be at least 16 characters');
  const metrics = { enabled: metricsEnabled, ...(metricsToken ? { token: metricsToken } : {}) };
  if (!(auth.lastUsedFlushSeconds > 0 && auth.lastUsedFlushSeconds <= 3600)) {
    problems.push('BACKBONE_LAST_USED_FLUSH_SECONDS must be a number of seconds from 0 to 3600');
  }

  // Platform providers: a provider is configured when it has credentials.
  const fp = file.providers ?? {};
  const providers: PlatformProviders = {};
  const openaiKey = env.OPENAI_API_KEY ?? fp.openai?.api_key;
  if (openaiKey) providers.openai = { apiKey: openaiKey, baseUrl: url('OPENAI_BASE_URL', env.OPENAI_BASE_URL ?? fp.openai?.base_url) };
  const anthropicKey = env.ANTHROPIC_API_KEY ?? fp.anthropic?.api_key;
  if (anthropicKey) providers.anthropic = { apiKey: anthropicKey, baseUrl: url('ANTHROPIC_BASE_URL', env.ANTHROPIC_BASE_URL ?? fp.anthropic?.base_url) };
  const az = fp['azure-openai'] ?? {};
  const azKey = env.AZURE_OPENAI_API_KEY ?? az.api_key;
  const azEndpoint = url('AZURE_OPENAI_ENDPOINT', env.AZURE_OPENAI_ENDPOINT ?? az.endpoint);
  if (azKey || azEndpoint) {
    if (!azKey || !azEndpoint) problems.push('Azure OpenAI needs both AZURE_OPENAI_API_KEY and AZURE_OPENAI_ENDPOINT');
    else providers.azureOpenai = { apiKey: azKey, endpoint: azEndpoint, apiVersion: env.AZURE_OPENAI_API_VERSION ?? az.api_version };
  }
  const vx = fp['vertex-ai'] ?? {};
  const geminiKey = env.GEMINI_API_KEY ?? vx.api_key;
  const saFile = env.VERTEX_SERVICE_ACCOUNT_FILE ?? env.GOOGLE_APPLICATION_CREDENTIALS ?? vx.service_account_file;
  let serviceAccountJson: string | undefined;
  if (saFile) {
    try {
      serviceAccountJson = readFileSync(resolve(cwd, saFile), 'utf8');
      const sa = JSON.parse(serviceAccountJson) as { client_email?: unknown; private_key?: unknown };
      if (typeof sa.client_email !== 'string' || typeof sa.private_key !== 'string') throw new Error('not a service-account key file');
    } catch (err) {
      problems.push(`Vertex service-account file ${saFile}: ${(err as Error).message}`);
      serviceAccountJson = undefined;
    }
  }
  if (geminiKey || serviceAccountJson) {
    providers.vertexAi = {
      apiKey: geminiKey, serviceAccountJson,
      baseUrl: url('GEMINI_BASE_URL', env.GEMINI_BASE_URL ?? vx.base_url),
      project: env.VERTEX_PROJECT ?? vx.project, location: env.VERTEX_LOCATION ?? vx.location,
    };
  }
  const ollamaUrl = url('OLLAMA_BASE_URL', env.OLLAMA_BASE_URL ?? fp.ollama?.base_url);
  if (ollamaUrl) providers.ollama = { baseUrl: ollamaUrl };

  const up = file.upstream ?? {};
  const upstream = {
    connectTimeoutMs: int('BACKBONE_UPSTREAM_CONNECT_TIMEOUT_MS', env.BACKBONE_UPSTREAM_CONNECT_TIMEOUT_MS ?? up.connect_timeout_ms, 10_000, 100, 600_000),
    firstByteTimeoutMs: int('BACKBONE_UPSTREAM_FIRST_BYTE_TIMEOUT_MS', env.BACKBONE_UPSTREAM_FIRST_BYTE_TIMEOUT_MS ?? up.first_byte_timeout_ms, 600_000, 100, 3_600_000),
    idleTimeoutMs: int('BACKBONE_UPSTREAM_IDLE_TIMEOUT_MS', env.BACKBONE_UPSTREAM_IDLE_TIMEOUT_MS ?? up.idle_timeout_ms, 120_000, 100, 3_600_000),
    maxRetries: int('BACKBONE_UPSTREAM_MAX_RETRIES', env.BACKBONE_UPSTREAM_MAX_RETRIES ?? up.max_retries, 2, 0, 10),
  };
  const maxBodyMb = Number(env.BACKBONE_MAX_BODY_MB ?? file.max_body_mb ?? 20);
  if (!(maxBodyMb >= 1 && maxBodyMb <= 200)) problems.push('BACKBONE_MAX_BODY_MB must be a number of megabytes from 1 to 200');

  const us = file.usage ?? {};
  const usage = {
    queueMax: int('BACKBONE_USAGE_QUEUE_MAX', env.BACKBONE_USAGE_QUEUE_MAX ?? us.queue_max, 100_000, 1000, 10_000_000),
    retentionDays: int('BACKBONE_USAGE_RETENTION_DAYS', env.BACKBONE_USAGE_RETENTION_DAYS ?? us.retention_days, 400, 0, 36_500),
  };

  const ds = file.dashboard ?? {};
  const dashboard = {
    sessionTtlHours: int('BACKBONE_SESSION_TTL_HOURS', env.BACKBONE_SESSION_TTL_HOURS ?? ds.session_ttl_hours, 168, 1, 8760),
    loginFailureLimit: int('BACKBONE_LOGIN_FAILURE_LIMIT', env.BACKBONE_LOGIN_FAILURE_LIMIT ?? ds.login_failure_limit, 5, 1, 1000),
    loginFailureWindowSeconds: int('BACKBONE_LOGIN_FAILURE_WINDOW', env.BACKBONE_LOGIN_FAILURE_WINDOW ?? ds.login_failure_window_seconds, 900, 1, 86_400),
    inviteTtlHours: int('BACKBONE_INVITE_TTL_HOURS', env.BACKBONE_INVITE_TTL_HOURS ?? ds.invite_ttl_hours, 168, 1, 8760),
  };

  const configured: Record<ProviderName, boolean> = {
    openai: !!providers.openai, anthropic: !!providers.anthropic, 'azure-openai': !!providers.azureOpenai,
    'vertex-ai': !!providers.vertexAi, ollama: !!providers.ollama,
  };
  const models: PlatformModel[] = [];
  const names = new Set<string>();
  for (const m of file.models ?? []) {
    if (m.name.includes('/')) problems.push(`models: '${m.name}': platform model names cannot contain '/' (provider/model is BYOK)`);
    if (names.has(m.name)) problems.push(`models: '${m.name}' is declared twice`);
    names.add(m.name);
    if (!configured[m.provider]) problems.push(`models: '${m.name}' uses provider ${m.provider}, which has no credentials configured`);
    models.push({ name: m.name, provider: m.provider, upstream: m.upstream ?? m.name, fallbacks: m.fallbacks ?? [] });
  }
  for (const m of models) {
    for (const f of m.fallbacks) if (f === m.name) problems.push(`models: '${m.name}' lists itself as a fallback`);
  }

  const prices: Price[] = [];
  for (const [i, p] of (file.prices ?? []).entries()) {
    const from = p.effective_from === undefined ? 0 : p.effective_from instanceof Date ? p.effective_from.getTime() : Date.parse(p.effective_from);
    if (!Number.isFinite(from)) problems.push(`prices[${i}]: effective_from must be a date like 2026-01-01`);
    prices.push({
      provider: p.provider, model: p.model, effectiveFrom: Number.isFinite(from) ? from : 0, input: p.input, output: p.output,
      cachedInput: p.cached_input, cacheWrite: p.cache_write, audioPerMinute: p.audio_per_minute,
    });
  }

  // The secret: required with PostgreSQL (several nodes must share it); generated locally for SQLite.
  let secret = env.BACKBONE_SECRET ?? file.secret;
  if (secret !== undefined && secret.length < 32) {
    problems.push('BACKBONE_SECRET must be at least 32 characters (generate one with: openssl rand -base64 48)');
  }
  if (!secret && databaseKind === 'postgres') {
    problems.push('BACKBONE_SECRET is required with PostgreSQL: every instance must share it (generate one with: openssl rand -base64 48)');
  }

  if (problems.length) throw new ConfigError(problems);

  if (!secret) {
    if (databaseUrl === ':memory:' || opts.generateSecret === false) secret = randomBytes(48).toString('base64url');
    else secret = readOrCreateSecret(dataDir);
  }

  return deepFreeze({
    port, host, dataDir, databaseUrl: databaseKind === 'sqlite' && databaseUrl !== ':memory:' ? resolve(cwd, databaseUrl) : databaseUrl,
    databaseKind, databaseTimeouts, redisUrl, redisPrefix, plans, secret, logLevel, trustProxy, auth, providers, models, upstream, prices,
    maxBodyBytes: Math.round(maxBodyMb * 1024 * 1024), usage, dashboard, limits, workers, metrics, file: rawFile,
  } satisfies Config);
}

/** The local secret lives in `<data>/secret` (mode 0600), made once on first run. */
function readOrCreateSecret(dataDir: string): string {
  const path = join(dataDir, 'secret');
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  mkdirSync(dirname(path), { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
