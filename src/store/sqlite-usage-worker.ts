/**
 * The thread behind sqlite-usage-writer.ts: its own connection to the SQLite file, one prepared
 * single-row INSERT bound by position, one transaction per batch. Answers each batch with the
 * number of rows inserted (a row already present is skipped, so a retried batch never duplicates)
 * or with the error's message and SQLite code.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { USAGE_COLUMNS } from './usage-columns.js';

export interface BatchRequest { id: number; rows: unknown[][] }
export type BatchAnswer = { id: number; inserted: number } | { id: number; error: { message: string; code?: string } };

const db = new Database((workerData as { path: string }).path);
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = NORMAL');

/** Prepared on the first batch, and again after a failure (the table may have been away). */
let batch: ((rows: unknown[][]) => number) | undefined;
function prepare(): (rows: unknown[][]) => number {
  const insert = db.prepare(`INSERT INTO usage_events (${USAGE_COLUMNS.join(', ')}) VALUES (${USAGE_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`);
  return db.transaction((rows: unknown[][]) => {
    let n = 0;
    for (const values of rows) n += insert.run(values).changes;
    return n;
  });
}

parentPort!.on('message', ({ id, rows }: BatchRequest) => {
  let answer: BatchAnswer;
  try {
    batch ??= prepare();
    answer = { id, inserted: batch(rows) };
  } catch (err) {
    batch = undefined;
    const e = err as { message?: string; code?: unknown };
    answer = { id, error: { message: String(e.message ?? err), code: typeof e.code === 'string' ? e.code : undefined } };
  }
  parentPort!.postMessage(answer);
});
