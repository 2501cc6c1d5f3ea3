/**
 * A private redis-server for outage tests (never the shared one): started on a free port, stopped
 * and started again on the same port. Outside CI a missing `redis-server` skips with a reason; in
 * CI it fails loudly.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

const inCI = process.env.CI === 'true' || process.env.CI === '1';

export function privateRedisSkip(): string | undefined {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (r.status === 0) return undefined;
  const problem = `redis-server is not on PATH (${r.error?.message ?? r.stderr})`;
  if (inCI) throw new Error(`CI requires redis-server for the outage suites: ${problem}`);
  console.log(`# skipping private-Redis suites: ${problem}`);
  return problem;
}

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface PrivateRedis {
  url: string;
  port: number;
  start(): Promise<void>;
  /** Stop it hard (SIGKILL: like a crash or a network cut). */
  stop(): Promise<void>;
  close(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const until = Date.now() + 10_000;
    for (;;) {
      const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => {});
      try {
        await r.connect();
        await r.ping();
        r.disconnect();
        return;
      } catch {
        r.disconnect();
        if (Date.now() > until) throw new Error(`private redis-server on ${port} did not start`);
        await new Promise((res) => setTimeout(res, 50));
      }
    }
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    c.kill('SIGKILL');
    await once(c, 'exit');
  };
  await start();
  return { url, port, start, stop, close: stop };
}
