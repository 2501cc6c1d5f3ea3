/**
 * SQLite WAL checkpoints on a thread of their own. SQLite checkpoints automatically in the commit
 * that grows the WAL past 1000 pages: in the server that is a usage batch's commit, on the event
 * loop, and copying ~4 MB of pages back into the database held every request for 10-35 ms
 * (measured at 1000 req/s in the gateway benchmark). Here a worker thread with its own connection
 * runs a PASSIVE checkpoint (it never waits for readers or writers) every `intervalMs`, so the
 * WAL stays small and the event loop never copies it. The server's connection keeps automatic
 * checkpoints only as a backstop, at 10x the usual size, should this thread fall behind or die.
 *
 * The thread is plain JavaScript evaluated from a string: no compiled file to find, and the same
 * code under tsx (tests) and from dist/.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** The server connection's own automatic checkpoint, in pages (SQLite's default is 1000). */
export const BACKSTOP_AUTOCHECKPOINT_PAGES = 10_000;

const THREAD = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
let failures = 0;
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    failures = 0;
  } catch (err) {
    // SQLITE_BUSY: another process's checkpoint is running; anything else is reported once.
    if (err.code !== 'SQLITE_BUSY' && failures++ === 0) parentPort.postMessage({ error: String(err && err.message || err) });
  }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'close') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface CheckpointerLog {
  warn(obj: object, msg: string): void;
}

export class SqliteCheckpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  constructor(file: string, opts: { intervalMs?: number; log?: CheckpointerLog } = {}) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(THREAD, { eval: true, workerData: { file, driver, intervalMs: opts.intervalMs ?? 1000 } });
    // Never what keeps the process alive.
    this.worker.unref();
    this.worker.on('message', (m: { error?: string }) => {
      if (m.error) opts.log?.warn({ err: m.error }, 'SQLite checkpoint failed; the connection\'s automatic checkpoint remains as a backstop');
    });
    this.worker.on('error', (err) => opts.log?.warn({ err: err.message }, 'SQLite checkpoint thread stopped; the connection\'s automatic checkpoint remains as a backstop'));
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
  }

  /** Stops the thread after its checkpoint in progress, if any; closes its connection. */
  async close(): Promise<void> {
    this.worker.postMessage('close');
    const t = setTimeout(() => void this.worker.terminate(), 5000);
    await this.exited;
    clearTimeout(t);
  }
}
