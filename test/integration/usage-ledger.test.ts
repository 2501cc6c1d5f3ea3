/**
 * The usage ledger on real stores (SQLite and PostgreSQL), driven through the real HTTP stack
 * with the OpenAI SDK: one row per response served under a concurrent burst, a store outage that
 * loses nothing, idempotent batches, and how long writing 10 000 rows takes.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { backends } from '../support/backends.js';
import { startLedgerGateway, type LedgerGateway } from '../support/usage.js';
import { usageEvent, waitFor } from '../support/usage-events.js';
import { FAKE_USAGE } from '../fakes/openai-wire.js';

const all = await backends();
const BURST = 300;

for (const backend of all) {
  describe(`usage ledger: ${backend.name}`, { skip: backend.skip }, () => {
    let g: LedgerGateway;
    let drop: () => Promise<void>;
    let orgId: string;
    const rowCount = async () => Number((await sql<{ n: number }>`select count(*) as n from usage_events`.execute(g.t.app.store.db.kysely)).rows[0]!.n);
    const idsPresent = async (ids: string[]) => {
      const rows = await g.t.app.store.db.kysely.selectFrom('usage_events').select('id').where('id', 'in', ids).execute();
      return new Set(rows.map((r) => r.id));
    };

    before(async () => {
      const db = await backend.fresh();
      drop = db.drop;
      g = await startLedgerGateway(db.url);
      orgId = (await g.t.app.store.orgs.ensureDefault()).id;
    });
    after(async () => { await g?.close(); await drop?.(); });

    test(`a burst of ${BURST} concurrent requests: one row per response served, token sums match`, async () => {
      const results = await Promise.all(Array.from({ length: BURST }, async (_, i) => {
        const stream = i % 3 === 0;
        if (stream) {
          const { data, response } = await g.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Hi ${i}` }], stream: true }).withResponse();
          for await (const _chunk of data) { /* drain */ }
          return response.headers.get('x-request-id')!;
        }
        const { response } = await g.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Hi ${i}` }] }).withResponse();
        return response.headers.get('x-request-id')!;
      }));
      assert.equal(new Set(results).size, BURST, 'every response has its own x-request-id');
      await g.t.app.ledger.flush();
      assert.equal(await rowCount(), BURST);
      assert.equal((await idsPresent(results)).size, BURST, 'every response served has its row, by request id');
      const { totals } = await g.t.app.store.usage.summarize({ orgId, from: 0, to: Date.now() + 1000 });
      assert.deepEqual({ ...totals, costUsd: undefined }, {
        requests: BURST, promptTokens: BURST * FAKE_USAGE.prompt_tokens, completionTokens: BURST * FAKE_USAGE.completion_tokens,
        cachedTokens: BURST * FAKE_USAGE.prompt_tokens_details.cached_tokens, errors: 0, costUsd: undefined,
      });
      // gpt-4o-mini: 8 fresh input x 0.15 + 4 cached x 0.075 + 5 output x 0.6 per million tokens.
      assert.ok(Math.abs(totals.costUsd - BURST * 4.5e-6) < 1e-12, `cost ${totals.costUsd}`);
      const s = g.t.app.ledger.stats();
      assert.deepEqual({ queued: s.queued, dropped: s.dropped }, { queued: 0, dropped: 0 });
      assert.ok(s.written >= BURST);
    });

    test('a store outage: requests keep working, rows stay queued (and show in /readyz), then are written once', async () => {
      const db = g.t.app.store.db.kysely;
      const before = await rowCount();
      await sql`alter table usage_events rename to usage_events_offline`.execute(db);
      let renamed = true;
      try {
        const ids: string[] = [];
        for (let i = 0; i < 20; i++) {
          const { response } = await g.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'during the outage' }] }).withResponse();
          ids.push(response.headers.get('x-request-id')!);
        }
        await assert.rejects(g.t.app.ledger.flush(), 'flush() reports the failure');
        const s = g.t.app.ledger.stats();
        assert.equal(s.queued, 20);
        assert.ok(s.failures >= 1);
        assert.ok(s.lastError && /usage_events/.test(s.lastError), s.lastError ?? '');
        const ready = await g.t.call('/readyz');
        assert.deepEqual(ready.json.checks.usage_queue, { queued: 20, dropped: 0 });

        await sql`alter table usage_events_offline rename to usage_events`.execute(db);
        renamed = false;
        await waitFor(() => g.t.app.ledger.stats().queued === 0, 20_000, 'the background retry');
        assert.equal(await rowCount(), before + 20);
        assert.equal((await idsPresent(ids)).size, 20);
        assert.ok(g.t.logs.some((l) => /could not be written; they stay queued/.test(l)), 'the outage was logged');
        assert.equal(g.t.app.ledger.stats().dropped, 0);
      } finally {
        if (renamed) await sql`alter table usage_events_offline rename to usage_events`.execute(db);
      }
    });

    test('insertBatch is idempotent: the same batch twice, or an overlapping one, never duplicates', async () => {
      const repo = g.t.app.store.usage;
      const before = await rowCount();
      const batch = Array.from({ length: 50 }, () => usageEvent({ orgId }));
      assert.equal(await repo.insertBatch(batch), 50);
      assert.equal(await repo.insertBatch(batch), 0);
      const more = Array.from({ length: 10 }, () => usageEvent({ orgId }));
      assert.equal(await repo.insertBatch([...batch.slice(0, 25), ...more]), 10);
      assert.equal(await rowCount(), before + 60);
    });

    test('a row that would be unstorable as sent (NUL in the model name, NaN cost) is still written', async () => {
      const e = usageEvent({ orgId, model: 'bad\u0000model', costUsd: Number.NaN, latencyMs: Number.POSITIVE_INFINITY, ttftMs: Number.NaN });
      assert.equal(await g.t.app.store.usage.insertBatch([e]), 1);
      const row = await g.t.app.store.db.kysely.selectFrom('usage_events').selectAll().where('id', '=', e.requestId).executeTakeFirstOrThrow();
      assert.equal(row.model, 'bad\uFFFDmodel');
      assert.deepEqual([row.cost_usd, row.latency_ms, row.ttft_ms], [0, 0, null]);
    });

    test('10 000 rows through the ledger (measured)', async (t) => {
      const ledger = g.t.app.ledger;
      const before = await rowCount();
      const t0 = performance.now();
      for (let i = 0; i < 10_000; i++) ledger.record(usageEvent({ orgId }));
      const recordMs = performance.now() - t0;
      const t1 = performance.now();
      await ledger.flush();
      const flushMs = performance.now() - t1;
      assert.equal(await rowCount(), before + 10_000);
      t.diagnostic(`${backend.name}: record() x10000 ${recordMs.toFixed(1)} ms; flush of 10000 rows ${flushMs.toFixed(0)} ms (${Math.round(10_000 / (flushMs / 1000))} rows/s)`);
      assert.ok(recordMs < 500, `record() must stay cheap (${recordMs.toFixed(1)} ms for 10 000)`);
    });
  });
}
