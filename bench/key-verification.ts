/**
 * Key verification on the request path: the cost of `KeyService.verify` for a hot (cached) key,
 * for a cold key (cache cleared: one indexed store lookup) on SQLite and PostgreSQL, and for a
 * garbage key (rejected by the checksum, no lookup).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, type Store } from '../src/store/index.js';
import { KeyService } from '../src/keys/service.js';
import { KeyCache } from '../src/keys/cache.js';
import { LastUsedTracker } from '../src/keys/last-used.js';
import { createKeyHasher } from '../src/keys/hash.js';
import { DEFAULT_PERMISSIONS } from '../src/keys/permissions.js';
import { generateKey } from '../src/keys/format.js';
import { summarize, table, us } from './stats.js';

async function measure(n: number, fn: () => Promise<unknown>): Promise<Float64Array> {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    out[i] = Number(process.hrtime.bigint() - t0);
  }
  return out;
}

async function suite(label: string, store: Store, rows: (string | number)[][]): Promise<void> {
  const cache = new KeyCache({ max: 50_000 });
  const keys = new KeyService({ store, hasher: createKeyHasher('b'.repeat(48)), cache, lastUsed: new LastUsedTracker(store.keys, 3_600_000) });
  const org = await store.orgs.ensureDefault();
  // a realistic table: many keys, one of them hot
  const secrets: string[] = [];
  for (let i = 0; i < 500; i++) {
    const { secret } = await keys.create(org.id, { name: `k${i}`, environment: 'live', permissions: [...DEFAULT_PERMISSIONS], allowedModels: null, allowedIps: null, expiresAt: null }, { id: 'cli', ip: null });
    secrets.push(secret);
  }
  const hot = secrets[0]!;
  const check = async (k: string) => { const r = await keys.verify(k, '127.0.0.1'); if (!r.valid) throw new Error('verify failed'); };
  await check(hot);
  for (let i = 0; i < 20_000; i++) await check(hot); // warm-up
  const cached = summarize(await measure(200_000, () => check(hot)));
  let j = 0;
  const cold = summarize(await measure(3_000, () => { cache.clear(); return check(secrets[j++ % secrets.length]!); }));
  const garbage = generateKey('live').key.slice(0, -1) + '0';
  const rejected = summarize(await measure(100_000, () => keys.verify(garbage, '127.0.0.1')));
  rows.push([`${label}: cached (hot key)`, cached.n, us(cached.p50), us(cached.p99)]);
  rows.push([`${label}: uncached (store lookup)`, cold.n, us(cold.p50), us(cold.p99)]);
  rows.push([`${label}: bad checksum (no lookup)`, rejected.n, us(rejected.p50), us(rejected.p99)]);
}

export async function benchKeyVerification(): Promise<string> {
  const rows: (string | number)[][] = [];
  const dir = mkdtempSync(join(tmpdir(), 'backbone-bench-'));
  const sqlite = await openStore(join(dir, 'bench.db'));
  try {
    await suite('SQLite', sqlite, rows);
  } finally {
    await sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const admin = process.env.BACKBONE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const c = new pg.Client({ connectionString: admin, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.query('drop database if exists backbone_bench with (force)');
    await c.query('create database backbone_bench');
    const u = new URL(admin);
    u.pathname = '/backbone_bench';
    const store = await openStore(u.toString());
    try {
      await suite('PostgreSQL', store, rows);
    } finally {
      await store.close();
      await c.query('drop database if exists backbone_bench with (force)');
    }
  } catch (err) {
    rows.push(['PostgreSQL: not measured', 0, (err as Error).message.slice(0, 40), '']);
  } finally {
    await c.end().catch(() => {});
  }
  return `### Key verification (KeyService.verify, µs per call)\n\n${table(['case', 'calls', 'p50 µs', 'p99 µs'], rows)}\n`;
}
