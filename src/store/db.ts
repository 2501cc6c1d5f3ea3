/**
 * Opens the store: SQLite (better-sqlite3, WAL) for the embedded default, PostgreSQL (pg pool)
 * for shared deployments. One Kysely schema serves both; migrations run at open.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { CompiledQuery, Kysely, Migrator, PostgresDialect, SqliteDialect, SqliteDriver, sql, type DatabaseConnection, type Driver, type Migration, type SqliteDialectConfig } from 'kysely';
import type { Database } from './schema.js';
import { BACKSTOP_AUTOCHECKPOINT_PAGES, SqliteCheckpointer, type CheckpointerLog } from './sqlite-checkpointer.js';
import { initial } from './migrations/001-initial.js';
import { providerAccounts } from './migrations/002-provider-accounts.js';
import { usageAndLimits } from './migrations/003-usage-and-limits.js';
import { dashboard } from './migrations/004-dashboard.js';
import { scaleOut } from './migrations/005-scale-out.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Db {
  readonly kysely: Kysely<Database>;
  readonly dialect: Dialect;
  /** The SQLite connection itself (SQLite only), for the usage ledger's prepared bulk insert. */
  readonly sqlite?: SQLite.Database;
  /** Throws when the store cannot answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Pool size for PostgreSQL. */
  poolSize?: number;
  /** PostgreSQL: longest wait for a connection / for one query's answer (a hung store fails fast). */
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
  /**
   * SQLite file: checkpoint the WAL from a thread of its own (sqlite-checkpointer.ts). For the
   * server; a short CLI command keeps SQLite's automatic checkpoint.
   */
  checkpointThread?: { log?: CheckpointerLog };
}

export async function openDb(url: string, opts: OpenOptions = {}): Promise<Db> {
  const dialect: Dialect = /^postgres(ql)?:\/\//.test(url) ? 'postgres' : 'sqlite';
  let kysely: Kysely<Database>;
  let raw: SQLite.Database | undefined;
  let checkpointer: SqliteCheckpointer | undefined;
  if (dialect === 'postgres') {
    // Migrations on a pool of their own without the query timeout: a migration may rightly run long.
    const migrating = new Kysely<Database>({ dialect: new PostgresDialect({ pool: pgPool(url, { max: 1, connectTimeoutMs: opts.connectTimeoutMs }) }) });
    try {
      await migrate(migrating, dialect);
    } finally {
      await migrating.destroy();
    }
    const pool = pgPool(url, { max: opts.poolSize ?? 10, connectTimeoutMs: opts.connectTimeoutMs, queryTimeoutMs: opts.queryTimeoutMs ?? 30_000 });
    kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  } else {
    if (url !== ':memory:') mkdirSync(dirname(url), { recursive: true });
    const sqlite = (raw = new SQLite(url));
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    kysely = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: sqlite }) });
    await migrate(kysely, dialect);
    if (opts.checkpointThread && url !== ':memory:') {
      sqlite.pragma(`wal_autocheckpoint = ${BACKSTOP_AUTOCHECKPOINT_PAGES}`);
      checkpointer = new SqliteCheckpointer(url, { log: opts.checkpointThread.log });
    }
  }
  return {
    kysely,
    dialect,
    sqlite: raw,
    ping: async () => { await sql`select 1`.execute(kysely); },
    close: async () => {
      await checkpointer?.close();
      await kysely.destroy();
    },
  };
}

/**
 * SQLite transactions that take the write lock when they begin (`BEGIN IMMEDIATE`), waiting out
 * another writer with the busy timeout. With Kysely's deferred `BEGIN`, a transaction that reads
 * before it writes fails its first write with SQLITE_BUSY_SNAPSHOT if another connection (another
 * worker, the CLI) committed in between, and no busy timeout retries that.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly settings: SqliteDialectConfig) {
    super(settings);
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.settings);
  }
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006']);

/** Whether an error means the store could not be reached (as opposed to a query it refused). */
/** A PostgreSQL pool that fails fast when the server is unreachable or hung. */
function pgPool(url: string, o: { max: number; connectTimeoutMs?: number; queryTimeoutMs?: number }): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: o.max,
    connectionTimeoutMillis: o.connectTimeoutMs ?? 5_000,
    // Client-side: a query whose answer does not come (a hung server, a partition) fails with
    // 'Query read timeout' and counts as the store being unreachable.
    ...(o.queryTimeoutMs ? { query_timeout: o.queryTimeoutMs } : {}),
    // A peer that vanished without a FIN is noticed by TCP keep-alive.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    // bigint (int8) columns hold millisecond times and counters well inside 2^53: read them as numbers.
    types: { getTypeParser: (oid: number, format?: any) => (oid === 20 || oid === 1700 ? Number : pg.types.getTypeParser(oid, format)) } as any,
  });
  // An idle client's error (server restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  // A client checked out of the pool has no error listener (pg-pool removes it): a connection lost
  // mid-transaction (store outage) would emit an unhandled 'error' and crash the process. The
  // query in flight is rejected anyway; the listener only keeps the process alive.
  pool.on('connect', (client) => { client.on('error', () => {}); });
  return pool;
}

export function isStoreUnreachable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (typeof e?.code === 'string' && UNREACHABLE_CODES.has(e.code)) return true;
  return typeof e?.message === 'string' && /Connection terminated|timeout exceeded when trying to connect|timeout expired|Query read timeout|connection error|Client was closed/i.test(e.message);
}

/** Migrations in order; append only. */
function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '001-initial': initial(dialect),
    '002-provider-accounts': providerAccounts(dialect),
    '003-usage-and-limits': usageAndLimits(dialect),
    '004-dashboard': dashboard(dialect),
    '005-scale-out': scaleOut(dialect),
  };
}

async function migrate(db: Kysely<Database>, dialect: Dialect): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations(dialect) },
    // Migrations made on parallel branches (004) may land after a later one already ran somewhere.
    allowUnorderedMigrations: true,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? error}`);
  }
}
