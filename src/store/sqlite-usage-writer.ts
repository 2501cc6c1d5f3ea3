/**
 * SQLite usage rows written by a worker thread with a connection of its own, so writing a batch
 * (about 8 µs a row with the table's four indexes) and the WAL checkpoints it sets off never
 * block the event loop: on the event loop a 500-row batch held every request for ~5 ms, and a
 * checkpoint for up to ~35 ms. The ledger's contract is unchanged: `insert` resolves with the rows
 * inserted once they are committed, or rejects with the store's error and its SQLite `code`
 * (so a refused row is still told apart from an unwritable store). A thread that dies fails its
 * batches (the ledger keeps and retries them) and is started again for the next one.
 */
import { Worker } from 'node:worker_threads';
import type { BatchAnswer, BatchRequest } from './sqlite-usage-worker.js';

/** The thread, from dist/ (compiled JavaScript) or, under tsx (the test suite runs src/), from TypeScript. */
function spawn(path: string): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./sqlite-usage-worker.js', import.meta.url), { workerData: { path } });
  // A worker does not inherit tsx's loader: it registers it before loading the TypeScript entry.
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const entry = JSON.stringify(new URL('./sqlite-usage-worker.ts', import.meta.url).href);
  return new Worker(`import(${api}).then(({ register }) => { register(); return import(${entry}); })`, { eval: true, workerData: { path } });
}

export class SqliteUsageWriter {
  private worker: Worker | undefined;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (n: number) => void; reject: (e: Error) => void }>();
  private readonly inflight = new Set<Promise<number>>();
  private closed = false;

  constructor(private readonly path: string) {}

  /** Insert rows (values in USAGE_COLUMNS order) in one transaction; resolves with the rows inserted. */
  insert(rows: unknown[][]): Promise<number> {
    if (this.closed) return Promise.reject(Object.assign(new Error('the usage writer is closed'), { code: 'SQLITE_MISUSE' }));
    const worker = this.start();
    const id = ++this.seq;
    const done = new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref(); // a batch in flight keeps the process alive
      worker.postMessage({ id, rows } satisfies BatchRequest);
    });
    this.inflight.add(done);
    const forget = () => { this.inflight.delete(done); };
    done.then(forget, forget);
    return done;
  }

  /** Waits for the batches in flight, then stops the thread. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    await Promise.allSettled([...this.inflight]);
    this.worker = undefined;
    await worker.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = spawn(this.path);
    worker.unref();
    worker.on('message', (answer: BatchAnswer) => {
      const p = this.pending.get(answer.id);
      if (!p) return;
      this.pending.delete(answer.id);
      if (this.pending.size === 0) worker.unref();
      if ('error' in answer) p.reject(Object.assign(new Error(answer.error.message), { code: answer.error.code }));
      else p.resolve(answer.inserted);
    });
    const fail = (err: unknown) => {
      if (this.worker === worker) this.worker = undefined;
      const lost = [...this.pending.values()];
      this.pending.clear();
      for (const p of lost) p.reject(Object.assign(new Error(`usage writer thread failed: ${(err as Error)?.message ?? String(err)}`), { code: 'SQLITE_WORKER_EXIT' }));
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }
}
