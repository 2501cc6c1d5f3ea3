/**
 * Scale-out benchmarks (`npm run bench -- workers` / `npm run bench -- revoke`):
 *
 * - workers: requests/s and latency of `backbone serve --workers 2` against `--workers 1`, same load
 *   generator settings as the gateway section (autocannon, 32 connections, non-streaming, against the
 *   zero-latency fake upstream in its own process), SQLite, a real key with an rpm limit so the
 *   limiter is on the path (with 2 workers its counters live in the primary, over IPC).
 * - revoke: the time from a revoke on instance A to the last request instance B accepted with that
 *   key, while B is being hammered with it (4 request loops), over several repetitions, per
 *   configuration: SQLite (the poll, default 500 ms), PostgreSQL (LISTEN/NOTIFY), PostgreSQL + Redis
 *   (pub/sub). The two instances run in this process (each its own app, store pool and Redis
 *   connections); PostgreSQL/Redis rows are skipped with a reason when not reachable.
 *
 * Environment: BENCH_SCALE_SECONDS (each measured phase, default 10), BENCH_REVOKE_REPS (default 20),
 * BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres), BENCH_REDIS_URL (default
 * redis://127.0.0.1:6379).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import pg from 'pg';
import { Redis } from 'ioredis';
import { percentile, table } from './stats.js';
import { baseEnv, freePort } from './processes.js';
import { loadConfig } from '../src/config/index.js';
import { createApp, type App } from '../src/app.js';
import { DEFAULT_PERMISSIONS } from '../src/keys/permissions.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECONDS = Math.min(60, Math.max(2, Number(process.env.BENCH_SCALE_SECONDS ?? 10)));
const REPS = Math.max(3, Number(process.env.BENCH_REVOKE_REPS ?? 20));
const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECRET = 'bench-secret-bench-secret-bench-secret-012345';
const run = promisify(execFile);

async function startUpstream(): Promise<{ child: ChildProcess; origin: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/fake-upstream.ts')], { cwd: ROOT, env: baseEnv(), stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const msg = await new Promise<{ port: number }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { port: number }));
    child.once('exit', (code) => reject(new Error(`fake upstream exited (${code})`)));
  });
  return { child, origin: `http://127.0.0.1:${msg.port}` };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 25_000);
  await exited;
  clearTimeout(t);
}

interface Throughput { workers: number; limited: boolean; rps: number; p50: number; p99: number; errors: number }

async function serveThroughput(workers: number, limited: boolean, upstream: string): Promise<Throughput> {
  const dir = mkdtempSync(join(tmpdir(), 'backbone-workers-bench-'));
  const port = await freePort();
  const env = { ...baseEnv(), BACKBONE_DATA_DIR: dir, BACKBONE_SECRET: SECRET, LOG_LEVEL: 'info', PORT: String(port), HOST: '127.0.0.1', OPENAI_API_KEY: 'sk-bench-upstream', OPENAI_BASE_URL: `${upstream}/v1` };
  const cli = ['--import', 'tsx', join(ROOT, 'src/main.ts')];
  let child: ChildProcess | undefined;
  try {
    const key = JSON.parse((await run(process.execPath, [...cli, 'keys', 'create', '--name', 'bench', ...(limited ? ['--rpm', '1000000000'] : []), '--json'], { cwd: ROOT, env })).stdout).key as string;
    child = spawn(process.execPath, [...cli, 'serve', '--workers', String(workers)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let up = 0;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('backbone did not start within 60 s')), 60_000);
      createInterface({ input: child!.stdout! }).on('line', (line) => { if (/Backbone listening/.test(line) && ++up === workers) { clearTimeout(t); resolve(); } });
      child!.once('exit', (code) => reject(new Error(`backbone exited (${code})`)));
    });
    const opts = {
      url: `http://127.0.0.1:${port}/api/v1/chat/completions`, connections: 32, method: 'POST' as const,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello in five words.' }] }),
    };
    await autocannon({ ...opts, duration: 3 });
    const r = await autocannon({ ...opts, duration: SECONDS });
    return { workers, limited, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
  } finally {
    if (child) await stop(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchWorkers(): Promise<string> {
  const upstream = await startUpstream();
  try {
    const runs: Throughput[] = [];
    for (const limited of [false, true]) for (const workers of [1, 2]) runs.push(await serveThroughput(workers, limited, upstream.origin));
    const rows = runs.map((t) => [`--workers ${t.workers}`, t.limited ? 'rpm limit (limiter on the path)' : 'no limit (unlimited plan)', t.rps.toFixed(0), t.p50.toFixed(2), t.p99.toFixed(2), t.errors]);
    const speedup = (limited: boolean) => {
      const [one, two] = [1, 2].map((w) => runs.find((r) => r.workers === w && r.limited === limited)!.rps);
      return (two! / one!).toFixed(2);
    };
    return [
      '## Workers: throughput of `serve --workers 2` against `--workers 1`\n',
      `${cpus().length} cores shared by the load generator (autocannon, 32 connections, ${SECONDS} s after a 3 s warm-up), the fake upstream and Backbone; SQLite. With an rpm limit the limiter counts in memory with 1 worker and in the primary (over IPC) with 2. 1-minute load average after the runs: ${loadavg()[0]!.toFixed(2)} (other work on the machine skews these numbers).\n`,
      table(['target', 'key', 'req/s', 'p50 ms', 'p99 ms', 'errors + non-2xx'], rows),
      '',
      `Speed-up of 2 workers over 1: ${speedup(false)}x without limits, ${speedup(true)}x with an rpm limit.`,
      '',
    ].join('\n');
  } finally {
    await stop(upstream.child);
  }
}

// ---------------------------------------------------------------------------------------------
// Revocation lag across instances

interface Lag { lastAccepted: number; firstRefused: number }

async function reachable(kind: 'pg' | 'redis'): Promise<string | undefined> {
  try {
    if (kind === 'pg') {
      const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
      await c.connect();
      await c.end();
    } else {
      const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => {});
      await r.connect();
      await r.ping();
      r.disconnect();
    }
    return undefined;
  } catch (err) {
    return `${kind === 'pg' ? PG_URL : REDIS_URL} not reachable: ${(err as Error).message}`;
  }
}

async function revokeLags(env: Record<string, string>): Promise<Lag[]> {
  const config = loadConfig({ ...env, BACKBONE_SECRET: SECRET, LOG_LEVEL: 'silent', BACKBONE_AUTH_FAILURE_LIMIT: '1000000' }, { generateSecret: false });
  const a: App = await createApp(config);
  const b: App = await createApp(config);
  const [ua, ub] = [await a.listen(0), await b.listen(0)];
  try {
    await new Promise((r) => setTimeout(r, 500)); // channels subscribed
    const org = await a.store.orgs.ensureDefault();
    const admin = await a.keys.create(org.id, { name: 'admin', environment: 'live', permissions: ['keys:write', 'keys:read'], allowedModels: null, allowedIps: null, expiresAt: null }, { id: 'cli', ip: null });
    const lags: Lag[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const { key, secret } = await a.keys.create(org.id, { name: `revoke-${rep}`, environment: 'live', permissions: [...DEFAULT_PERMISSIONS], allowedModels: null, allowedIps: null, expiresAt: null }, { id: 'cli', ip: null });
      await new Promise((r) => setTimeout(r, 600 + Math.random() * 500)); // the creation's feed row read everywhere; a random phase against the poll
      let lastAccepted = -Infinity;
      let firstRefused = Infinity;
      let t0 = Infinity;
      let refused = false;
      const loop = async () => {
        while (!refused) {
          const start = performance.now();
          const res = await fetch(`${ub}/api/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
          await res.arrayBuffer();
          if (res.status === 200) lastAccepted = Math.max(lastAccepted, start);
          else { firstRefused = Math.min(firstRefused, start); refused = true; }
        }
      };
      const loops = Array.from({ length: 4 }, loop);
      await new Promise((r) => setTimeout(r, 100));
      t0 = performance.now();
      const res = await fetch(`${ua}/api/v1/keys/${key.id}/revoke`, { method: 'POST', headers: { authorization: `Bearer ${admin.secret}` } });
      await res.arrayBuffer();
      await Promise.all(loops);
      lags.push({ lastAccepted: Math.max(0, lastAccepted - t0), firstRefused: firstRefused - t0 });
    }
    return lags;
  } finally {
    await a.close();
    await b.close();
  }
}

export async function benchRevoke(): Promise<string> {
  const rows: (string | number)[][] = [];
  const notes: string[] = [];
  const pgProblem = await reachable('pg');
  const redisProblem = await reachable('redis');
  const tmp = mkdtempSync(join(tmpdir(), 'backbone-revoke-bench-'));
  const configs: { name: string; problem?: string; env: () => Promise<{ env: Record<string, string>; drop(): Promise<void> }> }[] = [
    { name: 'SQLite (poll, every 500 ms)', env: async () => ({ env: { DATABASE_URL: join(tmp, 'backbone.db') }, drop: async () => {} }) },
    { name: 'PostgreSQL (LISTEN/NOTIFY)', problem: pgProblem, env: () => pgDb({}) },
    { name: 'PostgreSQL + Redis (pub/sub)', problem: pgProblem ?? redisProblem, env: () => pgDb({ REDIS_URL, BACKBONE_REDIS_PREFIX: `bench-${randomBytes(4).toString('hex')}:` }) },
  ];
  try {
    for (const c of configs) {
      if (c.problem) { notes.push(`- ${c.name}: not measured (${c.problem}).`); continue; }
      const { env, drop } = await c.env();
      try {
        const lags = await revokeLags(env);
        const last = lags.map((l) => l.lastAccepted).sort((x, y) => x - y);
        const first = lags.map((l) => l.firstRefused).sort((x, y) => x - y);
        rows.push([c.name, lags.length, percentile(last, 50).toFixed(1), last.at(-1)!.toFixed(1), percentile(first, 50).toFixed(1), first.at(-1)!.toFixed(1)]);
      } finally {
        await drop();
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return [
    '## Revocation across instances: from a revoke on A to the last request B accepted\n',
    `Two instances (this process), B hammered with the key by 4 request loops; the revoke is sent to A at t = 0. ${REPS} repetitions per row.\n`,
    table(['configuration', 'reps', 'last accepted on B, p50 ms', 'max ms', 'first refused on B, p50 ms', 'max ms'], rows),
    ...notes,
    '',
  ].join('\n');
}

async function pgDb(extra: Record<string, string>): Promise<{ env: Record<string, string>; drop(): Promise<void> }> {
  const name = `backbone_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return {
    env: { DATABASE_URL: u.toString(), ...extra },
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
