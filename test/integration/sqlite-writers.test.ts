/**
 * SQLite with more than one connection writing (`serve --workers N`, the CLI beside a running
 * server): a transaction that reads before it writes must not fail because another connection
 * committed in between. In WAL mode a deferred `BEGIN` would fail its first write with
 * SQLITE_BUSY (snapshot), which no busy timeout retries; Backbone's transactions begin IMMEDIATE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import { openStore } from '../../src/store/index.js';
import { usageEvent } from '../support/usage-events.js';

/** Another connection to the same file, in a thread of its own: it writes a row when told to. */
async function otherWriter(path: string): Promise<{ write(): Promise<void>; close(): Promise<number> }> {
  const worker = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads');
    const Database = require('better-sqlite3');
    const db = new Database(workerData.path);
    db.pragma('busy_timeout = 5000');
    parentPort.postMessage('ready');
    parentPort.on('message', (m) => {
      if (m === 'close') { db.close(); parentPort.postMessage('closed'); return; }
      db.prepare("insert into changes (kind, target_id, created_at) values ('key', 'from-the-other-connection', ?)").run(Date.now());
      parentPort.postMessage('written');
    });`, { eval: true, workerData: { path } });
  const next = () => new Promise<string>((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
  assert.equal(await next(), 'ready'); // connected before the test's transaction begins
  return {
    async write() { worker.postMessage('write'); assert.equal(await next(), 'written'); },
    async close() { worker.postMessage('close'); await next(); return worker.terminate(); },
  };
}

test('a read-then-write transaction survives another connection committing in between', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'backbone-writers-')), 'backbone.db');
  const store = await openStore(path);
  const other = await otherWriter(path);
  try {
    let written: Promise<void> | undefined;
    await store.db.kysely.transaction().execute(async (tx) => {
      const before = await tx.selectFrom('changes').select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow();
      assert.equal(Number(before.n), 0);
      // the other connection tries to commit while this transaction is open; it may only wait
      written = other.write();
      await new Promise((r) => setTimeout(r, 100));
      await tx.insertInto('changes').values({ kind: 'key', target_id: 'from-the-transaction', created_at: Date.now() }).execute();
    });
    await written;
    const after = await store.db.kysely.selectFrom('changes').select('target_id').execute();
    assert.deepEqual(after.map((r) => r.target_id).sort(), ['from-the-other-connection', 'from-the-transaction']);
  } finally {
    await other.close();
    await store.close();
  }
});

test('a usage batch written in slices keeps every row when a transaction opens between its slices and rolls back', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'backbone-slices-')), 'backbone.db');
  const store = await openStore(path);
  try {
    const t0 = Date.now();
    const events = Array.from({ length: 250 }, (_, i) => usageEvent({ requestId: `slice-${i}`, createdAt: t0 + i }));
    // The first slice is written at once; the transaction begins before the next one.
    const written = store.usage.insertBatch(events);
    await assert.rejects(store.db.kysely.transaction().execute(async (tx) => {
      await tx.insertInto('changes').values({ kind: 'key', target_id: 'rolled-back', created_at: Date.now() }).execute();
      await new Promise((r) => setTimeout(r, 50));
      throw new Error('roll back');
    }), /roll back/);
    assert.equal(await written, 250);
    const { n } = await store.db.kysely.selectFrom('usage_events').select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow();
    assert.equal(Number(n), 250, 'no slice was nested in the rolled-back transaction');
  } finally {
    await store.close();
  }
});
