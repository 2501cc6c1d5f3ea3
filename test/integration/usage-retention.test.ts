/**
 * Usage upkeep on real stores: PostgreSQL monthly partitions (made ahead, rows land in their
 * month, a month whose rows already sit in the default partition is reported, not fatal) and
 * retention (PostgreSQL drops whole partitions; SQLite deletes in chunks), wired from config.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { backends } from '../support/backends.js';
import { openStore, type Store } from '../../src/store/index.js';
import { UsageLedger } from '../../src/metering/ledger.js';
import { monthStart, partitionName } from '../../src/store/usage-partitions.js';
import { startTestApp } from '../support/app.js';
import { usageEvent, waitFor } from '../support/usage-events.js';

const all = await backends();
const silent = { error() {}, warn() {}, info() {} };

for (const backend of all) {
  describe(`usage retention and partitions: ${backend.name}`, { skip: backend.skip }, () => {
    let store: Store;
    let url: string;
    let drop: () => Promise<void>;
    const count = async (where = sql`true`) =>
      Number((await sql<{ n: number }>`select count(*) as n from usage_events where ${where}`.execute(store.db.kysely)).rows[0]!.n);
    const partitions = async () => (await sql<{ name: string }>`
      select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'usage_events'::regclass order by 1`.execute(store.db.kysely)).rows.map((r) => r.name);
    const tableExists = async (name: string) =>
      (await sql`select 1 from pg_tables where tablename = ${name}`.execute(store.db.kysely)).rows.length === 1;
    const partitionOf = async (id: string) =>
      (await sql<{ p: string }>`select tableoid::regclass::text as p from usage_events where id = ${id}`.execute(store.db.kysely)).rows[0]?.p;

    before(async () => {
      const db = await backend.fresh();
      url = db.url;
      drop = db.drop;
      store = await openStore(url);
    });
    after(async () => { await store?.close(); await drop?.(); });

    if (backend.name === 'postgres') {
      test('the ledger makes this and next month\'s partitions at start; rows land in their month', async () => {
        const now = Date.now();
        const ledger = new UsageLedger(store.usage, silent, { retentionDays: 0 });
        await ledger.start();
        await ledger.stop();
        const names = await partitions();
        for (const m of [monthStart(now), monthStart(now, 1)]) assert.ok(names.includes(partitionName(m)), `${partitionName(m)} in ${names}`);
        assert.ok(names.includes('usage_events_default'));
        const e = usageEvent({ createdAt: now });
        await store.usage.insertBatch([e]);
        assert.equal(await partitionOf(e.requestId), partitionName(monthStart(now)));
        const again = await store.usage.ensurePartitions(now);
        assert.deepEqual(again, { created: [], failed: [] }, 'idempotent');
      });

      test('a month whose rows already sit in the default partition is reported, not thrown; the next month is still made', async () => {
        const future = Date.UTC(2031, 2, 10);
        const early = usageEvent({ createdAt: future });
        await store.usage.insertBatch([early]);
        assert.equal(await partitionOf(early.requestId), 'usage_events_default');
        const r = await store.usage.ensurePartitions(future);
        assert.deepEqual(r.created, ['usage_events_y2031m04']);
        assert.equal(r.failed.length, 1);
        assert.equal(r.failed[0]!.name, 'usage_events_y2031m03');
        assert.match(r.failed[0]!.error, /default partition/);
        // Nothing is lost: the row stays readable, and the month keeps taking rows (in the default).
        const late = usageEvent({ createdAt: future + 1000 });
        assert.equal(await store.usage.insertBatch([late]), 1);
        assert.equal(await count(sql`id in (${early.requestId}, ${late.requestId})`), 2);
      });

      test('dropBefore drops whole partitions before the cutoff month and old rows of the default partition', async () => {
        await store.usage.ensurePartitions(Date.UTC(2024, 0, 15)); // 2024-01 and 2024-02
        const jan = Array.from({ length: 30 }, (_, i) => usageEvent({ createdAt: Date.UTC(2024, 0, 1 + i) }));
        const feb = usageEvent({ createdAt: Date.UTC(2024, 1, 3) });
        const ancient = usageEvent({ createdAt: Date.UTC(2023, 5, 1) });
        await store.usage.insertBatch([...jan, feb, ancient]);
        assert.equal(await partitionOf(jan[0]!.requestId), 'usage_events_y2024m01');
        assert.equal(await partitionOf(ancient.requestId), 'usage_events_default');

        const r = await store.usage.dropBefore(Date.UTC(2024, 1, 20)); // mid-February: months before February go
        assert.deepEqual(r, { droppedPartitions: ['usage_events_y2024m01'], deletedRows: 1 });
        assert.equal(await tableExists('usage_events_y2024m01'), false, 'the partition is gone, not emptied');
        assert.ok(!(await partitions()).includes('usage_events_y2024m01'));
        assert.equal(await tableExists('usage_events_y2024m02'), true);
        assert.equal(await count(sql`created_at < ${Date.UTC(2024, 1, 1)}`), 0);
        assert.equal(await count(sql`id = ${feb.requestId}`), 1);
      });
    } else {
      test('dropBefore deletes the rows of earlier months in chunks and keeps the rest', async () => {
        const old = Array.from({ length: 12_000 }, (_, i) => usageEvent({ createdAt: Date.UTC(2024, 0, 1) + i * 60_000 }));
        const kept = Array.from({ length: 10 }, () => usageEvent({ createdAt: Date.UTC(2024, 1, 3) }));
        await store.usage.insertBatch([...old, ...kept]);
        const r = await store.usage.dropBefore(Date.UTC(2024, 1, 20));
        assert.deepEqual(r, { droppedPartitions: [], deletedRows: 12_000 });
        assert.equal(await count(sql`created_at < ${Date.UTC(2024, 1, 1)}`), 0);
        assert.equal(await count(sql`created_at >= ${Date.UTC(2024, 1, 1)} and created_at < ${Date.UTC(2024, 2, 1)}`), 10);
      });
    }

    test('BACKBONE_USAGE_RETENTION_DAYS: the app removes usage older than the retention at start', async () => {
      const now = Date.now();
      const twoYearsAgo = now - 730 * 86_400_000;
      await store.usage.ensurePartitions(twoYearsAgo);
      const old = usageEvent({ createdAt: twoYearsAgo });
      const recent = usageEvent({ createdAt: now - 86_400_000 });
      await store.usage.insertBatch([old, recent]);
      const t = await startTestApp(url, { BACKBONE_USAGE_RETENTION_DAYS: '90' });
      try {
        // The log line comes once the whole job is done (the row may go a moment before it).
        await waitFor(() => t.logs.some((l) => /usage retention/.test(l)), 10_000, 'retention');
        assert.equal(await count(sql`id = ${old.requestId}`), 0);
        assert.equal(await count(sql`id = ${recent.requestId}`), 1);
        if (backend.name === 'postgres') assert.equal(await tableExists(partitionName(monthStart(twoYearsAgo))), false);
      } finally {
        await t.close();
      }
    });
  });
}
