/**
 * The storage backends every storage-dependent suite runs against. SQLite always; PostgreSQL when
 * reachable. In CI (CI=true) PostgreSQL is required: a missing server fails the run loudly instead
 * of silently shrinking coverage. Outside CI the suite is skipped with a printed reason.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PG_ADMIN_URL = process.env.BACKBONE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const inCI = process.env.CI === 'true' || process.env.CI === '1';

export interface Backend {
  name: 'sqlite' | 'postgres';
  /** Why the backend cannot run here (outside CI only); undefined when it can. */
  skip?: string;
  /** A fresh, empty database URL; drop() removes it. */
  fresh(): Promise<{ url: string; drop(): Promise<void> }>;
}

let pgReachable: Promise<string | undefined> | undefined;
function checkPostgres(): Promise<string | undefined> {
  pgReachable ??= (async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
    try {
      await c.connect();
      await c.query('select 1');
      return undefined;
    } catch (err) {
      return `PostgreSQL not reachable at ${PG_ADMIN_URL}: ${(err as Error).message}`;
    } finally {
      await c.end().catch(() => {});
    }
  })();
  return pgReachable;
}

const sqlite: Backend = {
  name: 'sqlite',
  async fresh() {
    const dir = mkdtempSync(join(tmpdir(), 'backbone-test-'));
    return { url: join(dir, 'backbone.db'), drop: async () => rmSync(dir, { recursive: true, force: true }) };
  },
};

const postgres = (skip: string | undefined): Backend => ({
  name: 'postgres',
  skip,
  async fresh() {
    const name = `backbone_test_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const u = new URL(PG_ADMIN_URL);
    u.pathname = `/${name}`;
    return {
      url: u.toString(),
      drop: async () => {
        const c = new pg.Client({ connectionString: PG_ADMIN_URL });
        await c.connect();
        await c.query(`drop database if exists ${name} with (force)`);
        await c.end();
      },
    };
  },
});

/** The backends to run, resolved once per test file. */
export async function backends(): Promise<Backend[]> {
  const problem = await checkPostgres();
  if (problem && inCI) throw new Error(`CI requires PostgreSQL for the storage suites. ${problem}`);
  if (problem) console.log(`# skipping PostgreSQL suites: ${problem}`);
  return [sqlite, postgres(problem)];
}
