/**
 * The `backbone` CLI: `serve`, `keys create|list|get|revoke|rotate`, `orgs create|list`, `users create`.
 * Key commands work directly on the configured store; a running server picks up their changes
 * through the change feed within one poll interval.
 */
import cluster from 'node:cluster';
import { Command, Option } from 'commander';
import { hashPassword, MIN_PASSWORD_LENGTH } from './users/password.js';
import { ConfigError, loadConfig, type Config } from './config/index.js';
import { createApp } from './app.js';
import { openStore, type Store } from './store/index.js';
import { KeyService, type Actor } from './keys/service.js';
import { KeyCache } from './keys/cache.js';
import { LastUsedTracker } from './keys/last-used.js';
import { createKeyHasher } from './keys/hash.js';
import { DEFAULT_PERMISSIONS } from './keys/permissions.js';
import { createKeyInput, durationParam, parseInput } from './keys/input.js';
import { apiKeyJson } from './http/routes/keys.js';
import { ApiError } from './errors.js';
import type { Role } from './store/users.js';
import { cliLimit, limitsSchema, toLimits } from './limits/input.js';
import { BUDGET_PERIODS } from './limits/periods.js';
import { orgJson, updateOrganization } from './limits/org-settings.js';
import { createLogger } from './logger.js';
import { runPrimary } from './cluster/workers.js';
import { RedisBus } from './cluster/notifier.js';

const CLI_ACTOR: Actor = { id: 'cli', ip: null };

function config(): Config {
  return loadConfig(process.env);
}

/** Open the store and a key service for one CLI command, and close them afterwards. */
async function withKeys<T>(fn: (ctx: { store: Store; keys: KeyService; orgId: (slug?: string) => Promise<string> }) => Promise<T>): Promise<T> {
  const cfg = config();
  const store = await openStore(cfg.databaseUrl, { poolSize: 2 });
  try {
    const lastUsed = new LastUsedTracker(store.keys, 60_000);
    const keys = new KeyService({ store, hasher: createKeyHasher(cfg.secret), cache: new KeyCache({ max: 100 }), lastUsed });
    const orgId = async (slug?: string) => {
      if (!slug) return (await store.orgs.ensureDefault()).id;
      const org = await store.orgs.bySlug(slug);
      if (!org) throw new CliError(`No organisation with slug '${slug}'`);
      return org.id;
    };
    let changed = false;
    store.changes.onAppended(() => { changed = true; });
    const result = await fn({ store, keys, orgId });
    // Running servers poll the change feed; with Redis, wake them at once (PostgreSQL NOTIFYs by trigger).
    if (changed && cfg.redisUrl && cfg.auth.invalidationBus !== 'poll' && cfg.auth.invalidationBus !== 'postgres') {
      const bus = new RedisBus(cfg.redisUrl, cfg.redisPrefix, cfg.limits.redisTimeoutMs);
      await bus.publishAndWait(1000);
      await bus.close();
    }
    return result;
  } finally {
    await store.close();
  }
}

class CliError extends Error {}

const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);

function print(json: boolean, obj: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(obj, null, 2)}\n` : `${text}\n`);
}

const program = new Command('backbone')
  .description('Backbone: the self-hostable API platform for LLMs')
  .showHelpAfterError();

program.command('serve')
  .description('run the HTTP server')
  .option('--port <port>', 'port (default: PORT or 8080)')
  .option('--host <host>', 'host (default: HOST or 127.0.0.1)')
  .option('--workers <n>', 'worker processes sharing the port (default: BACKBONE_WORKERS, else one per core; 1 = a single process)')
  .action(async (opts: { port?: string; host?: string; workers?: string }) => {
    const cfg = loadConfig({
      ...process.env, ...(opts.port ? { PORT: opts.port } : {}), ...(opts.host ? { HOST: opts.host } : {}),
      ...(opts.workers ? { BACKBONE_WORKERS: opts.workers } : {}),
    });
    if (cluster.isPrimary && cfg.workers > 1) {
      // Migrations and the default organisation once, before any worker opens the store.
      const store = await openStore(cfg.databaseUrl, { poolSize: 1 });
      await store.orgs.ensureDefault();
      await store.close();
      runPrimary({ workers: cfg.workers, log: createLogger(cfg.logLevel), shutdownTimeoutMs: 20_000 });
      return;
    }
    // A signal while starting (a worker replaced just before shutdown) stops it as soon as it is up.
    let signalled: string | undefined;
    const early = (signal: string) => { signalled ??= signal; };
    process.on('SIGTERM', early);
    process.on('SIGINT', early);
    const app = await createApp(cfg);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      app.logger.info({ signal }, 'shutting down');
      const force = setTimeout(() => { app.logger.error({}, 'shutdown timed out'); process.exit(1); }, 15_000);
      force.unref();
      app.close().then(() => process.exit(0), (err) => { app.logger.error({ err: String(err) }, 'shutdown failed'); process.exit(1); });
    };
    process.off('SIGTERM', early);
    process.off('SIGINT', early);
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    if (signalled) { stop(signalled); return; }
    const url = await app.listen();
    app.logger.info({ url, store: cfg.databaseKind, pid: process.pid, ...(cluster.isWorker ? { worker: cluster.worker?.id } : {}) }, `Backbone listening on ${url}`);
  });

program.command('migrate')
  .description('bring the database schema up to date (run once per deployment before starting new versions)')
  .action(async () => {
    const cfg = config();
    const store = await openStore(cfg.databaseUrl, { poolSize: 1 });
    try {
      await store.orgs.ensureDefault();
    } finally {
      await store.close();
    }
    process.stdout.write(`Database schema is up to date (${cfg.databaseKind}).\n`);
  });

const keysCmd = program.command('keys').description('manage API keys');

keysCmd.command('create')
  .description('create an API key and print it (shown only this once)')
  .requiredOption('--name <name>', 'a name that says where the key is used')
  .option('--org <slug>', 'organisation (default: the default organisation)')
  .option('--permissions <list>', 'comma list, or all | read_only', DEFAULT_PERMISSIONS.join(','))
  .addOption(new Option('--env <env>', 'environment').choices(['live', 'test']).default('live'))
  .option('--expires-in <duration>', 'e.g. 30d, 24h')
  .option('--models <list>', 'model allow-list (comma list)')
  .option('--ips <list>', 'IP / CIDR allow-list (comma list)')
  .option('--rpm <n>', 'requests per minute (default: the plan\'s)')
  .option('--tpm <n>', 'tokens per minute (default: the plan\'s)')
  .option('--concurrency <n>', 'requests at a time (default: the plan\'s)')
  .option('--budget <usd>', 'spending limit in USD, e.g. 50')
  .addOption(new Option('--budget-period <period>', 'budget period (default: the key\'s lifetime)').choices([...BUDGET_PERIODS]))
  .option('--json', 'print JSON')
  .action(async (o: { name: string; org?: string; permissions: string; env: string; expiresIn?: string; models?: string; ips?: string; json?: boolean } & LimitFlags) => {
    await withKeys(async ({ keys, orgId }) => {
      const input = createKeyInput({
        name: o.name, environment: o.env, permissions: o.permissions, expires_in: o.expiresIn,
        allowed_models: o.models ? list(o.models) : undefined, allowed_ips: o.ips ? list(o.ips) : undefined,
        ...limitFlags(o),
      }, DEFAULT_PERMISSIONS);
      const { key, secret } = await keys.create(await orgId(o.org), input, CLI_ACTOR);
      print(!!o.json, { ...apiKeyJson(key), key: secret },
        `Created API key ${key.id} (${key.name})\n\n  ${secret}\n\nSave your key immediately: it is shown only this once. Afterwards only its prefix (${key.prefix}) is visible.`);
    });
  });

keysCmd.command('list')
  .description('list API keys (prefixes only)')
  .option('--org <slug>', 'organisation')
  .option('--json', 'print JSON')
  .action(async (o: { org?: string; json?: boolean }) => {
    await withKeys(async ({ keys, orgId }) => {
      const all = await keys.list(await orgId(o.org), { limit: 10_000 });
      const rows = all.map((k) => apiKeyJson(k));
      const text = rows.length === 0 ? 'No API keys.' : [
        ['ID', 'NAME', 'PREFIX', 'ENV', 'STATUS', 'CREATED', 'LAST USED'].join('\t'),
        ...rows.map((r) => [r.id, r.name, `${r.prefix}…`, r.environment, r.status, r.created_at, r.last_used_at ?? '-'].join('\t')),
      ].join('\n');
      print(!!o.json, { object: 'list', data: rows }, text);
    });
  });

keysCmd.command('revoke <id>')
  .description('revoke an API key at once')
  .option('--org <slug>', 'organisation')
  .option('--json', 'print JSON')
  .action(async (id: string, o: { org?: string; json?: boolean }) => {
    await withKeys(async ({ keys, orgId }) => {
      const key = await keys.revoke(await orgId(o.org), id, CLI_ACTOR);
      print(!!o.json, apiKeyJson(key), `Revoked ${key.id} (${key.name}, ${key.prefix}…)`);
    });
  });

keysCmd.command('rotate <id>')
  .description('issue a new secret for the same key; the old one works until the grace period ends')
  .option('--grace <duration>', 'how long the old secret keeps working (e.g. 24h; 0 = stop at once)', '0')
  .option('--org <slug>', 'organisation')
  .option('--json', 'print JSON')
  .action(async (id: string, o: { grace: string; org?: string; json?: boolean }) => {
    await withKeys(async ({ keys, orgId }) => {
      const graceMs = durationParam(o.grace, 'grace') ?? 0;
      const { key, secret, previousSecretExpiresAt } = await keys.rotate(await orgId(o.org), id, graceMs, CLI_ACTOR);
      const until = new Date(previousSecretExpiresAt).toISOString();
      print(!!o.json, { ...apiKeyJson(key), key: secret, previous_key_expires_at: until },
        `Rotated ${key.id} (${key.name})\n\n  ${secret}\n\nSave your key immediately: it is shown only this once. The previous secret stops working at ${until}.`);
    });
  });

interface LimitFlags { rpm?: string; tpm?: string; concurrency?: string; budget?: string; budgetPeriod?: string }

/** `--rpm 60 --budget 50 --budget-period month` -> the API's limit fields (`none` clears one). */
function limitFlags(o: LimitFlags) {
  return {
    rpm_limit: cliLimit(o.rpm, 'rpm_limit'), tpm_limit: cliLimit(o.tpm, 'tpm_limit'),
    concurrency_limit: cliLimit(o.concurrency, 'concurrency_limit'), budget_usd: cliLimit(o.budget, 'budget_usd', false),
    budget_period: o.budgetPeriod === undefined ? undefined : o.budgetPeriod === 'none' ? null : o.budgetPeriod,
  };
}

const orgsCmd = program.command('orgs').description('manage organisations');
orgsCmd.command('create')
  .requiredOption('--slug <slug>', 'short unique name, e.g. acme')
  .option('--name <name>', 'display name')
  .option('--plan <plan>', 'plan', 'free')
  .option('--json', 'print JSON')
  .action(async (o: { slug: string; name?: string; plan: string; json?: boolean }) => {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(o.slug)) throw new CliError('--slug must be lowercase letters, digits and dashes (at most 63)');
    const plans = config().plans.map((p) => p.name);
    if (!plans.includes(o.plan)) throw new CliError(`Unknown plan '${o.plan}'; the plans are ${plans.join(', ')}`);
    await withKeys(async ({ store }) => {
      if (await store.orgs.bySlug(o.slug)) throw new CliError(`An organisation with slug '${o.slug}' already exists`);
      const org = await store.orgs.create({ slug: o.slug, name: o.name ?? o.slug, plan: o.plan });
      print(!!o.json, { object: 'organization', id: org.id, slug: org.slug, name: org.name, plan: org.plan }, `Created organisation ${org.slug} (${org.id})`);
    });
  });
orgsCmd.command('update <slug>')
  .description("change an organisation's plan or limits (a running server applies it within a second)")
  .option('--plan <plan>', 'plan name (see the plans: section of the config; built in: free, starter, scale, enterprise, unlimited)')
  .option('--rpm <n>', 'requests per minute over all of its keys (none = no limit)')
  .option('--tpm <n>', 'tokens per minute over all of its keys (none = no limit)')
  .option('--concurrency <n>', 'requests at a time over all of its keys (none = no limit)')
  .option('--budget <usd>', 'spending limit in USD over all of its keys (none = no budget)')
  .addOption(new Option('--budget-period <period>', 'budget period (default: lifetime)').choices([...BUDGET_PERIODS, 'none']))
  .option('--json', 'print JSON')
  .action(async (slug: string, o: { plan?: string; json?: boolean } & LimitFlags) => {
    const plans = config().plans.map((p) => p.name);
    await withKeys(async ({ store }) => {
      const org = await store.orgs.bySlug(slug);
      if (!org) throw new CliError(`No organisation with slug '${slug}'`);
      const limits = toLimits(parseInput(limitsSchema, limitFlags(o)));
      const updated = await updateOrganization(store.orgs, plans, org, { plan: o.plan, limits }, CLI_ACTOR);
      print(!!o.json, orgJson(updated), `Updated organisation ${updated.slug}: plan ${updated.plan}`);
    });
  });
orgsCmd.command('list').option('--json', 'print JSON').action(async (o: { json?: boolean }) => {
  await withKeys(async ({ store }) => {
    const orgs = await store.orgs.list();
    print(!!o.json, { object: 'list', data: orgs.map(orgJson) },
      orgs.map((g) => `${g.id}\t${g.slug}\t${g.plan}\t${g.name}`).join('\n'));
  });
});

const usersCmd = program.command('users').description('manage dashboard users');
usersCmd.command('create')
  .requiredOption('--email <email>', 'sign-in email')
  .option('--name <name>', 'display name')
  .option('--org <slug>', 'organisation to join (default: the default organisation)')
  .addOption(new Option('--role <role>', 'role in the organisation').choices(['owner', 'admin', 'member']).default('member'))
  .option('--password-stdin', 'read the password from standard input')
  .option('--json', 'print JSON')
  .action(async (o: { email: string; name?: string; org?: string; role: Role; passwordStdin?: boolean; json?: boolean }) => {
    if (!/^[^\s@]+@[^\s@]+$/.test(o.email)) throw new CliError('--email must be an email address');
    let passwordHash: string | null = null;
    if (o.passwordStdin) {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
      if (password.length < MIN_PASSWORD_LENGTH) throw new CliError(`The password must be at least ${MIN_PASSWORD_LENGTH} characters`);
      passwordHash = await hashPassword(password);
    }
    await withKeys(async ({ store, orgId }) => {
      if (await store.users.byEmail(o.email)) throw new CliError(`A user with email ${o.email} already exists`);
      const user = await store.users.create({ email: o.email, name: o.name ?? o.email.split('@')[0]!, passwordHash, orgId: await orgId(o.org), role: o.role });
      print(!!o.json, { object: 'user', id: user.id, email: user.email, name: user.name, role: o.role }, `Created user ${user.email} (${user.id}) as ${o.role}`);
    });
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof ApiError || err instanceof CliError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`error: ${(err as Error).message ?? String(err)}\n`);
  process.exit(1);
});
