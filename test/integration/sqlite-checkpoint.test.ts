/**
 * The server's SQLite WAL is checkpointed by a thread of its own (store/sqlite-checkpointer.ts),
 * not inside a usage batch's commit on the event loop. Observed from outside: a checkpoint copies
 * the WAL's pages into the database file, so the file grows while the server's own connection,
 * whose automatic checkpoint is only a backstop at 10 000 pages, has written far fewer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/index.js';
import { BACKSTOP_AUTOCHECKPOINT_PAGES } from '../../src/store/sqlite-checkpointer.js';
import { usageEvent, waitFor } from '../support/usage-events.js';

const ROWS = 12_000;
const MB = 1024 * 1024;

async function fill(store: Store): Promise<void> {
  const t0 = Date.now();
  for (let i = 0; i < ROWS; i += 500) {
    await store.usage.insertBatch(Array.from({ length: 500 }, (_, j) => usageEvent({ requestId: `req-${i + j}`, createdAt: t0 + i + j })));
  }
}

const dbFile = (label: string) => join(mkdtempSync(join(tmpdir(), `backbone-ckpt-${label}-`)), 'backbone.db');

test('the WAL is copied into the database by the checkpoint thread, not by the connection that writes', async () => {
  // Control: the same writes with only the backstop leave the pages in the WAL.
  const controlPath = dbFile('control');
  const control = await openStore(controlPath);
  control.db.sqlite!.pragma(`wal_autocheckpoint = ${BACKSTOP_AUTOCHECKPOINT_PAGES}`);
  const controlBefore = statSync(controlPath).size;
  await fill(control);
  await new Promise((r) => setTimeout(r, 1500));
  const controlGrowth = statSync(controlPath).size - controlBefore;
  await control.close();
  assert.ok(controlGrowth < MB, `without the thread the rows stay in the WAL (database file grew ${controlGrowth} bytes)`);

  const path = dbFile('thread');
  const store = await openStore(path, { checkpointThread: {} });
  try {
    assert.equal(store.db.sqlite!.pragma('wal_autocheckpoint', { simple: true }), BACKSTOP_AUTOCHECKPOINT_PAGES);
    const before = statSync(path).size;
    await fill(store);
    await waitFor(() => statSync(path).size - before > 2 * MB, 5000, 'the checkpoint thread to copy the WAL into the database');
    const { n } = await sql<{ n: number }>`select count(*) as n from usage_events`.execute(store.db.kysely).then((r) => r.rows[0]!);
    assert.equal(Number(n), ROWS);
  } finally {
    await store.close(); // stops the thread; a hang here fails the test by its timeout
  }
});

test('an in-memory database has no WAL and no thread', async () => {
  const store = await openStore(':memory:', { checkpointThread: {} });
  await store.usage.insertBatch([usageEvent({ requestId: 'mem-1' })]);
  await store.close();
});
