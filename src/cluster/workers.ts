/**
 * `backbone serve --workers N`: a node:cluster primary that forks N workers sharing one listening
 * port (the primary accepts connections and hands them out round-robin). The primary serves no
 * requests. It:
 *
 * - replaces a worker that dies unexpectedly, with back-off when workers keep dying young;
 * - on SIGTERM / SIGINT tells every worker to drain (each runs the app's `close()`: finish requests,
 *   flush usage rows and limit settlements, close the store) and exits once all of them have, or
 *   kills what is left at the deadline;
 * - holds the one set of limit counters for workers without Redis/PostgreSQL (IPC, see ipc.ts), and
 *   relays "the change feed moved" from one worker to the others;
 * - aggregates every worker's Prometheus registry for /metrics (prom-client's AggregatorRegistry).
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import { MemoryRateLimitStore } from '../limits/memory-store.js';
import type { RateLimitStore } from '../limits/store.js';

export interface PrimaryOptions {
  workers: number;
  log: { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void };
  /** How long workers get to drain after SIGTERM before they are killed. */
  shutdownTimeoutMs: number;
  /** Called when every worker has exited after a signal (default: process.exit). */
  exit?: (code: number) => void;
}

/** A worker that lived less than this is "dying young": its replacement waits longer each time. */
const YOUNG_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;

export function runPrimary(opts: PrimaryOptions): { stop(signal: string): void } {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const limits: RateLimitStore = new MemoryRateLimitStore();
  const aggregator = new AggregatorRegistry();
  const own = new Registry();
  const restarts = new Counter({ name: 'backbone_worker_restarts_total', help: 'Workers that died and were replaced', registers: [own] });
  new Gauge({ name: 'backbone_workers', help: 'Worker processes running', registers: [own], collect() { this.set(Object.keys(cluster.workers ?? {}).length); } });

  const bornAt = new Map<number, number>();
  let backoffMs = 0;
  let stopping = false;
  let failedExit = false;

  const fork = (): Worker => {
    const w = cluster.fork();
    bornAt.set(w.id, Date.now());
    w.on('message', (msg: unknown) => void onMessage(w, msg));
    return w;
  };

  const onMessage = async (w: Worker, msg: unknown): Promise<void> => {
    const m = msg as { type?: string; id?: number | string };
    if (m?.type === 'bb:limits') {
      // One message carries every call a worker made in one tick; run them in order, answer once.
      const results: { id: number; result?: unknown; error?: string }[] = [];
      for (const c of (m as unknown as { calls: { id: number; op: string; args: unknown[] }[] }).calls ?? []) {
        try {
          const a = c.args;
          let result: unknown;
          if (c.op === 'take') result = await limits.take(a[0] as never);
          else if (c.op === 'give') result = await limits.give(a[0] as never);
          else if (c.op === 'seed') result = await limits.seed(a[0] as string, a[1] as number, a[2] as number | null);
          else if (c.op === 'budget') result = await limits.budget(a[0] as string);
          else throw new Error(`unknown limits operation ${c.op}`);
          results.push({ id: c.id, result });
        } catch (err) {
          results.push({ id: c.id, error: (err as Error).message });
        }
      }
      if (w.isConnected()) w.send({ type: 'bb:limits:res', results });
    } else if (m?.type === 'bb:changed') {
      for (const other of Object.values(cluster.workers ?? {})) if (other && other !== w && other.isConnected()) other.send({ type: 'bb:wake' });
    } else if (m?.type === 'backbone:metrics:req') {
      try {
        const [all, mine] = await Promise.all([aggregator.clusterMetrics(), own.metrics()]);
        if (w.isConnected()) w.send({ type: 'backbone:metrics:res', id: m.id, text: `${all}\n${mine}` });
      } catch (err) {
        if (w.isConnected()) w.send({ type: 'backbone:metrics:res', id: m.id, error: (err as Error).message });
      }
    }
  };

  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (bornAt.get(worker.id) ?? 0);
    bornAt.delete(worker.id);
    if (stopping) {
      if (code !== 0) failedExit = true;
      opts.log.info({ worker: worker.id, pid: worker.process.pid, code, signal }, 'worker stopped');
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        opts.log.info({ clean: !failedExit }, 'every worker has stopped');
        exit(failedExit ? 1 : 0);
      }
      return;
    }
    backoffMs = lived < YOUNG_MS ? Math.min(Math.max(backoffMs * 2, 500), MAX_BACKOFF_MS) : 0;
    restarts.inc();
    opts.log.error({ worker: worker.id, pid: worker.process.pid, code, signal, lived_ms: lived, restart_in_ms: backoffMs }, 'worker died; starting a new one');
    setTimeout(() => { if (!stopping) fork(); }, backoffMs);
  });

  for (let i = 0; i < opts.workers; i++) fork();
  opts.log.info({ workers: opts.workers, pid: process.pid }, `Backbone primary started ${opts.workers} workers`);

  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
    opts.log.info({ signal, workers: alive.length }, 'shutting down: every worker drains its requests and writes its usage');
    if (alive.length === 0) { exit(0); return; }
    for (const w of alive) w.process.kill('SIGTERM');
    const force = setTimeout(() => {
      opts.log.error({}, 'workers did not stop in time; killing them');
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      exit(1);
    }, opts.shutdownTimeoutMs);
    force.unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return { stop };
}
