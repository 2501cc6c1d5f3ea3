/** Storage contract for BYOK provider accounts, on every backend (SQLite always, PostgreSQL for real). */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { backends } from '../support/backends.js';
import { openStore, type Store } from '../../src/store/index.js';
import { newId } from '../../src/store/ids.js';
import type { StoredProviderAccount } from '../../src/accounts/types.js';
import type { ProviderName } from '../../src/providers/types.js';

const all = await backends();

const audit = (orgId: string, targetId: string, action: string) =>
  ({ orgId, actor: 'cli', action, targetType: 'provider_account', targetId, details: { provider: 'openai' }, ip: null });

function makeAccount(orgId: string, provider: ProviderName, over: Partial<StoredProviderAccount> = {}): StoredProviderAccount {
  const now = Date.now();
  return {
    id: newId('prv'), orgId, provider, name: `${provider} account`,
    config: { baseUrl: 'https://example.test/v1', apiVersion: null, projectId: null, location: null, credential: 'api_key' },
    secretCiphertext: 'v1.aaa.bbb.ccc', secretHint: '...abcd', createdAt: now, updatedAt: now, createdBy: 'cli', ...over,
  };
}

for (const backend of all) {
  describe(`provider accounts store contract: ${backend.name}`, { skip: backend.skip }, () => {
    let store: Store;
    let drop: () => Promise<void>;
    let orgA: string;
    let orgB: string;

    const changesFor = async (orgId: string) => (await store.changes.since(0, 100_000)).filter((c) => c.kind === 'provider' && c.targetId === orgId);
    const auditFor = async (orgId: string, targetId: string) => (await store.audit.list(orgId, { limit: 100, targetId })).map((e) => e.action);

    before(async () => {
      const db = await backend.fresh();
      drop = db.drop;
      store = await openStore(db.url);
      orgA = (await store.orgs.ensureDefault()).id;
      orgB = (await store.orgs.create({ slug: 'other', name: 'Other' })).id;
    });
    after(async () => { await store?.close(); await drop?.(); });

    test('create, get, byProvider and list round-trip every field, scoped to the organisation', async () => {
      const a = makeAccount(orgA, 'azure-openai', {
        name: "Robert'); DROP TABLE provider_accounts;-- 🔑",
        config: { baseUrl: 'https://res.openai.azure.com', apiVersion: '2024-10-21', projectId: null, location: null, credential: 'api_key' },
      });
      assert.equal(await store.providerAccounts.create(a, audit(orgA, a.id, 'provider_account.created')), true);
      assert.deepEqual(await store.providerAccounts.get(orgA, a.id), a);
      assert.deepEqual(await store.providerAccounts.byProvider(orgA, 'azure-openai'), a);
      assert.deepEqual((await store.providerAccounts.list(orgA)).map((x) => x.id), [a.id]);
      assert.equal(await store.providerAccounts.get(orgB, a.id), undefined, 'another organisation cannot see it');
      assert.equal(await store.providerAccounts.byProvider(orgB, 'azure-openai'), undefined);
      assert.deepEqual(await store.providerAccounts.list(orgB), []);
      assert.equal(await store.providerAccounts.byProvider(orgA, 'openai'), undefined);
    });

    test('a create writes its audit event and a provider change row for the organisation', async () => {
      const before = (await changesFor(orgB)).length;
      const a = makeAccount(orgB, 'ollama', { config: { baseUrl: 'http://127.0.0.1:11434', apiVersion: null, projectId: null, location: null, credential: 'none' }, secretHint: null });
      assert.equal(await store.providerAccounts.create(a, audit(orgB, a.id, 'provider_account.created')), true);
      assert.deepEqual(await auditFor(orgB, a.id), ['provider_account.created']);
      const after = await changesFor(orgB);
      assert.equal(after.length, before + 1);
      assert.equal(after.at(-1)!.targetId, orgB, 'the change targets the organisation, not the account');
      assert.deepEqual((await store.providerAccounts.get(orgB, a.id))?.config.credential, 'none');
    });

    test('one account per provider per organisation: a duplicate returns false and writes nothing', async () => {
      const first = makeAccount(orgA, 'anthropic');
      assert.equal(await store.providerAccounts.create(first, audit(orgA, first.id, 'provider_account.created')), true);
      const changesBefore = (await changesFor(orgA)).length;
      const dup = makeAccount(orgA, 'anthropic', { name: 'second' });
      assert.equal(await store.providerAccounts.create(dup, audit(orgA, dup.id, 'provider_account.created')), false);
      assert.equal(await store.providerAccounts.get(orgA, dup.id), undefined);
      assert.deepEqual(await auditFor(orgA, dup.id), [], 'no audit event for a create that did not happen');
      assert.equal((await changesFor(orgA)).length, changesBefore, 'no change row either');
      // The same provider in another organisation is fine.
      const other = makeAccount(orgB, 'anthropic');
      assert.equal(await store.providerAccounts.create(other, audit(orgB, other.id, 'provider_account.created')), true);
    });

    test('update changes only what is given, in one transaction with its audit event and change row', async () => {
      const a = makeAccount(orgA, 'openai');
      await store.providerAccounts.create(a, audit(orgA, a.id, 'provider_account.created'));
      const changesBefore = (await changesFor(orgA)).length;
      const later = a.updatedAt + 1000;
      const renamed = await store.providerAccounts.update(orgA, a.id, { name: 'renamed' }, audit(orgA, a.id, 'provider_account.updated'), later);
      assert.deepEqual(renamed, { ...a, name: 'renamed', updatedAt: later });
      const config = { ...a.config, baseUrl: null };
      const resealed = await store.providerAccounts.update(orgA, a.id, { config, secretCiphertext: 'v1.new.new.new', secretHint: '...wxyz' }, audit(orgA, a.id, 'provider_account.updated'), later + 1);
      assert.deepEqual(resealed, { ...a, name: 'renamed', config, secretCiphertext: 'v1.new.new.new', secretHint: '...wxyz', updatedAt: later + 1 });
      assert.deepEqual(await auditFor(orgA, a.id), ['provider_account.updated', 'provider_account.updated', 'provider_account.created']);
      assert.equal((await changesFor(orgA)).length, changesBefore + 2);
    });

    test("update and delete of another organisation's account do nothing", async () => {
      const a = makeAccount(orgA, 'vertex-ai');
      await store.providerAccounts.create(a, audit(orgA, a.id, 'provider_account.created'));
      const changesBefore = (await changesFor(orgB)).length;
      assert.equal(await store.providerAccounts.update(orgB, a.id, { name: 'pwned' }, audit(orgB, a.id, 'provider_account.updated')), undefined);
      assert.equal(await store.providerAccounts.delete(orgB, a.id, audit(orgB, a.id, 'provider_account.deleted')), undefined);
      assert.equal((await store.providerAccounts.get(orgA, a.id))?.name, a.name);
      assert.deepEqual(await auditFor(orgB, a.id), []);
      assert.equal((await changesFor(orgB)).length, changesBefore);
    });

    test('delete returns the account once, writes its audit event and change row, and frees the provider slot', async () => {
      const a = makeAccount(orgB, 'openai');
      await store.providerAccounts.create(a, audit(orgB, a.id, 'provider_account.created'));
      const changesBefore = (await changesFor(orgB)).length;
      assert.deepEqual(await store.providerAccounts.delete(orgB, a.id, audit(orgB, a.id, 'provider_account.deleted')), a);
      assert.equal(await store.providerAccounts.delete(orgB, a.id, audit(orgB, a.id, 'provider_account.deleted')), undefined, 'a second delete finds nothing');
      assert.equal(await store.providerAccounts.get(orgB, a.id), undefined);
      assert.deepEqual(await auditFor(orgB, a.id), ['provider_account.deleted', 'provider_account.created'], 'one deletion event');
      assert.equal((await changesFor(orgB)).length, changesBefore + 1);
      const again = makeAccount(orgB, 'openai');
      assert.equal(await store.providerAccounts.create(again, audit(orgB, again.id, 'provider_account.created')), true);
    });

    test('list is in creation order', async () => {
      const org = (await store.orgs.create({ slug: 'ordered', name: 'Ordered' })).id;
      const ids: string[] = [];
      for (const [i, p] of (['ollama', 'openai', 'anthropic'] as const).entries()) {
        const a = makeAccount(org, p, { createdAt: 1000 + i });
        await store.providerAccounts.create(a, audit(org, a.id, 'provider_account.created'));
        ids.push(a.id);
      }
      assert.deepEqual((await store.providerAccounts.list(org)).map((a) => a.id), ids);
    });

    test('concurrent creates for the same provider: exactly one wins', async () => {
      const org = (await store.orgs.create({ slug: 'racy', name: 'Racy' })).id;
      const results = await Promise.all(Array.from({ length: 5 }, () => {
        const a = makeAccount(org, 'openai');
        return store.providerAccounts.create(a, audit(org, a.id, 'provider_account.created'));
      }));
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal((await store.providerAccounts.list(org)).length, 1);
      assert.equal((await store.audit.list(org, { limit: 100 })).length, 1);
    });

    test('deleting an organisation deletes its accounts (foreign key cascade)', async () => {
      const org = (await store.orgs.create({ slug: 'doomed', name: 'Doomed' })).id;
      const a = makeAccount(org, 'openai');
      await store.providerAccounts.create(a, audit(org, a.id, 'provider_account.created'));
      await sql`delete from organizations where id = ${org}`.execute(store.db.kysely);
      const left = await sql<{ n: number }>`select count(*) as n from provider_accounts where org_id = ${org}`.execute(store.db.kysely);
      assert.equal(Number(left.rows[0]!.n), 0);
    });
  });
}
