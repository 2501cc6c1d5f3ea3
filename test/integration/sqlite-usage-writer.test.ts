/**
 * On SQLite (a file), usage rows are written by a thread of their own (store/sqlite-usage-writer.ts).
 * What the ledger relies on must hold across the thread boundary: counts of rows inserted, the
 * store's errors with their codes, a dead thread failing only its batch, and close() committing
 * what is in flight.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/index.js';
import { usageEvent } from '../support/usage-events.js';
import { newRequestId } from '../../src/gateway/context.js';

async function withStore(fn: (store: Store, path: string) => Promise<void>): Promise<void> {
  const path = join(mkdtempSync(join(tmpdir(), 'backbone-writer-')), 'backbone.db');
  const store = await openStore(path);
  try {
    await fn(store, path);
  } finally {
    await store.close();
  }
}

const count = async (store: Store) => Number((await sql<{ n: number }>`select count(*) as n from usage_events`.execute(store.db.kysely)).rows[0]!.n);
const events = (n: number) => Array.from({ length: n }, () => usageEvent({ requestId: newRequestId() }));

test('rows written by the thread are read back by the main connection, values intact', async () => {
  await withStore(async (store) => {
    const e = usageEvent({ requestId: newRequestId(), model: 'gpt-4o-mini', promptTokens: 12, completionTokens: 5, costUsd: 0.0000045, ttftMs: 12.5, audioSeconds: null });
    assert.equal(await store.usage.insertBatch([e]), 1);
    const row = await store.db.kysely.selectFrom('usage_events').selectAll().where('id', '=', e.requestId).executeTakeFirstOrThrow();
    assert.equal(row.model, 'gpt-4o-mini');
    assert.equal(Number(row.prompt_tokens), 12);
    assert.equal(Number(row.completion_tokens), 5);
    assert.equal(Number(row.cost_usd), 0.0000045);
    assert.equal(Number(row.ttft_ms), 12.5);
    assert.equal(row.audio_seconds, null);
    assert.equal(Number(row.created_at), e.createdAt);
  });
});

test("the store's error comes back with its SQLite code, and the rows stay unwritten", async () => {
  await withStore(async (store) => {
    await sql`alter table usage_events rename to usage_events_away`.execute(store.db.kysely);
    await assert.rejects(store.usage.insertBatch(events(3)), (err: Error & { code?: string }) => /usage_events/.test(err.message) && err.code === 'SQLITE_ERROR');
    await sql`alter table usage_events_away rename to usage_events`.execute(store.db.kysely);
    assert.equal(await count(store), 0);
    assert.equal(await store.usage.insertBatch(events(3)), 3);
  });
});

test('a thread that dies fails the batch it held; the next batch starts a new thread', async () => {
  await withStore(async (store) => {
    assert.equal(await store.usage.insertBatch(events(2)), 2);
    const writer = (store.usage as unknown as { writer: { worker?: { terminate(): Promise<number> } } }).writer;
    const inFlight = store.usage.insertBatch(events(20_000));
    await writer.worker!.terminate();
    await assert.rejects(inFlight, (err: Error & { code?: string }) => err.code === 'SQLITE_WORKER_EXIT');
    const before = await count(store);
    assert.ok(before === 2 || before === 20_002, `a batch is all or nothing (${before} rows)`);
    assert.equal(await store.usage.insertBatch(events(5)), 5);
    assert.equal(await count(store), before + 5);
  });
});

test('close() commits the batches in flight before it stops the thread', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'backbone-writer-')), 'backbone.db');
  const store = await openStore(path);
  const batch = store.usage.insertBatch(events(5_000));
  await store.close();
  assert.equal(await batch, 5_000);
  const again = await openStore(path);
  try {
    assert.equal(await count(again), 5_000);
  } finally {
    await again.close();
  }
});
