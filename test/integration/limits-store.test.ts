/** Limits in the store, on every backend: key and organisation limits, plan changes with their
 *  audit event and change-feed row, and the usage-ledger totals that seed budgets and quotas. */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { backends } from '../support/backends.js';
import { openStore, type Store } from '../../src/store/index.js';
import { NO_LIMITS } from '../../src/limits/types.js';
import { SqlLedgerTotals } from '../../src/limits/ledger-seed.js';
import { newId } from '../../src/store/ids.js';
import type { ApiKey } from '../../src/keys/types.js';
import { testAudit } from '../support/limits.js';

const all = await backends();

for (const backend of all) {
  describe(`limits in the store: ${backend.name}`, { skip: backend.skip }, () => {
    let store: Store;
    let drop: () => Promise<void>;
    let orgId: string;
    before(async () => {
      const db = await backend.fresh();
      drop = db.drop;
      store = await openStore(db.url);
      orgId = (await store.orgs.create({ slug: 'lim', name: 'Lim' })).id;
    });
    after(async () => { await store?.close(); await drop?.(); });

    test('key limits are written, partly updated and read back (lookup too)', async () => {
      const now = Date.now();
      const key: ApiKey = {
        id: newId('key'), orgId, name: 'k', environment: 'live', prefix: 'sk_live_lim000', permissions: ['chat'], allowedModels: null, allowedIps: null,
        expiresAt: null, createdAt: now, createdBy: 'cli', lastUsedAt: null, revokedAt: null, updatedAt: now,
        limits: { rpm: 60, tpm: null, concurrency: 4, budgetUsd: 12.34, budgetPeriod: 'week' },
      };
      const audit = { orgId, actor: 'cli', action: 'test', targetType: 'api_key', targetId: key.id, details: {}, ip: null };
      await store.keys.create(key, `hash-${key.id}`, audit);
      assert.deepEqual((await store.keys.get(orgId, key.id))!.limits, key.limits);
      const updated = await store.keys.update(orgId, key.id, { limits: { rpm: null, tpm: 1000 } }, audit);
      assert.deepEqual(updated!.limits, { rpm: null, tpm: 1000, concurrency: 4, budgetUsd: 12.34, budgetPeriod: 'week' });
      assert.deepEqual((await store.keys.lookup(`hash-${key.id}`))!.key.limits, updated!.limits);
    });

    test('an organisation update writes plan and limits, its audit event and a change-feed row, together', async () => {
      assert.deepEqual((await store.orgs.byId(orgId))!.limits, NO_LIMITS);
      const cursor = await store.changes.latestId();
      const org = await store.orgs.update(orgId, { plan: 'scale', limits: { rpm: 100, budgetUsd: 50, budgetPeriod: 'month' } }, testAudit(orgId));
      assert.equal(org!.plan, 'scale');
      assert.deepEqual(org!.limits, { rpm: 100, tpm: null, concurrency: null, budgetUsd: 50, budgetPeriod: 'month' });
      assert.deepEqual((await store.changes.since(cursor)).map((c) => [c.kind, c.targetId]), [['org', orgId]]);
      assert.equal((await store.audit.list(orgId, { limit: 5, targetId: orgId }))[0]!.targetType, 'organization');
      assert.equal((await store.orgs.bySlug('lim'))!.limits.rpm, 100);
      assert.equal(await store.orgs.update('org_missing', { plan: 'free' }, testAudit('org_missing')), undefined);
      assert.deepEqual((await store.changes.since(cursor)).length, 1, 'nothing written for a missing organisation');
    });

    test('ledger totals: cost per organisation or key, platform tokens without BYOK, from a time on', async () => {
      const totals = new SqlLedgerTotals(store.db.kysely);
      const since = Date.now() - 60_000;
      const row = (over: Record<string, unknown>) => ({
        id: randomUUID(), org_id: orgId, key_id: 'key_a', endpoint: 'chat', model: 'm', provider: 'openai', upstream_model: 'm', byok: 0, stream: 0,
        status: 200, error_code: null, prompt_tokens: 10, completion_tokens: 5, cached_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0,
        audio_seconds: null, cost_usd: 0.25, latency_ms: 1, ttft_ms: null, created_at: Date.now(), ...over,
      });
      assert.equal(await totals.costSince(orgId, null, since), 0, 'an empty ledger starts at zero');
      await store.db.kysely.insertInto('usage_events').values([
        row({}), row({ key_id: 'key_b', cost_usd: 0.5 }), row({ byok: 1, prompt_tokens: 1000, cost_usd: 1 }),
        row({ created_at: since - 1, cost_usd: 100, prompt_tokens: 1000 }), row({ org_id: 'org_other', cost_usd: 100 }),
      ]).execute();
      assert.equal(await totals.costSince(orgId, null, since), 1.75);
      assert.equal(await totals.costSince(orgId, 'key_b', since), 0.5);
      assert.equal(await totals.platformTokensSince(orgId, since), 30);
    });
  });
}
