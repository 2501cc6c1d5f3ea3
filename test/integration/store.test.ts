/** One storage contract suite, run against every backend (SQLite always, PostgreSQL for real). */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../support/backends.js';
import { openStore, type Store } from '../../src/store/index.js';
import type { ApiKey } from '../../src/keys/types.js';
import { newId } from '../../src/store/ids.js';
import { NO_LIMITS } from '../../src/limits/types.js';

const all = await backends();

const audit = (orgId: string, targetId: string) => ({ orgId, actor: 'cli', action: 'test', targetType: 'api_key', targetId, details: { n: 1 }, ip: null });

function makeKey(orgId: string, over: Partial<ApiKey> = {}): ApiKey {
  const now = Date.now();
  return {
    id: newId('key'), orgId, name: 'k', environment: 'live', prefix: 'sk_live_abcdef', permissions: ['chat'],
    allowedModels: null, allowedIps: null, expiresAt: null, createdAt: now, createdBy: 'cli',
    lastUsedAt: null, revokedAt: null, updatedAt: now, limits: { ...NO_LIMITS }, ...over,
  };
}

for (const backend of all) {
  describe(`store contract: ${backend.name}`, { skip: backend.skip }, () => {
    let store: Store;
    let drop: () => Promise<void>;
    let orgA: string;
    let orgB: string;

    before(async () => {
      const db = await backend.fresh();
      drop = db.drop;
      store = await openStore(db.url);
      orgA = (await store.orgs.ensureDefault()).id;
      orgB = (await store.orgs.create({ slug: 'other', name: 'Other' })).id;
    });
    after(async () => { await store?.close(); await drop?.(); });

    test('migrations are idempotent: opening the same database again works', async () => {
      await store.db.ping();
      assert.equal((await store.orgs.ensureDefault()).id, orgA);
    });

    test('organisations: slug is unique', async () => {
      await assert.rejects(store.orgs.create({ slug: 'other', name: 'dup' }));
      assert.equal((await store.orgs.bySlug('other'))?.id, orgB);
      assert.equal((await store.orgs.list()).length, 2);
    });

    test('users and memberships; email is unique and case-insensitive', async () => {
      const u = await store.users.create({ email: 'Ada@Example.com', name: 'Ada', passwordHash: 'x', orgId: orgA, role: 'owner' });
      assert.equal((await store.users.byEmail('ada@example.com'))?.id, u.id);
      assert.deepEqual(await store.users.memberships(u.id), [{ orgId: orgA, role: 'owner' }]);
      await assert.rejects(store.users.create({ email: 'ada@example.com', name: 'Dup' }));
    });

    test('keys: create, lookup by hash, get, list scoped to the organisation', async () => {
      const k = makeKey(orgA, { allowedModels: ['gpt-4o'], allowedIps: ['10.0.0.0/8'], name: "Robert'); DROP TABLE api_keys;-- 🔑" });
      await store.keys.create(k, 'hash-1', audit(orgA, k.id));
      const found = await store.keys.lookup('hash-1');
      assert.deepEqual(found?.key, k);
      assert.equal(found?.secretExpiresAt, null);
      assert.equal(await store.keys.lookup('nope'), undefined);
      assert.deepEqual(await store.keys.get(orgA, k.id), k);
      assert.equal(await store.keys.get(orgB, k.id), undefined, 'another organisation cannot see it');
      assert.ok((await store.keys.list(orgA, { limit: 100 })).some((x) => x.id === k.id));
      assert.equal((await store.keys.list(orgB, { limit: 100 })).length, 0);
    });

    test('keys: list pages by cursor in creation order', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const k = makeKey(orgB, { createdAt: 1000 + i, name: `p${i}` });
        await store.keys.create(k, `page-${i}`, audit(orgB, k.id));
        ids.push(k.id);
      }
      const first = await store.keys.list(orgB, { limit: 2 });
      const second = await store.keys.list(orgB, { limit: 2, after: first[1]!.id });
      const third = await store.keys.list(orgB, { limit: 2, after: second[1]!.id });
      assert.deepEqual([...first, ...second, ...third].map((k) => k.id), ids);
    });

    test('keys: update, revoke (idempotent), org-scoped', async () => {
      const k = makeKey(orgA);
      await store.keys.create(k, 'hash-u', audit(orgA, k.id));
      assert.equal(await store.keys.update(orgB, k.id, { name: 'x' }, audit(orgB, k.id)), undefined);
      const u = await store.keys.update(orgA, k.id, { name: 'renamed', permissions: ['chat', 'audio'], allowedIps: null, expiresAt: 9e12 }, audit(orgA, k.id));
      assert.equal(u?.name, 'renamed');
      assert.deepEqual(u?.permissions, ['chat', 'audio']);
      assert.equal(u?.expiresAt, 9e12);
      assert.equal(await store.keys.revoke(orgB, k.id, audit(orgB, k.id)), undefined);
      const r1 = await store.keys.revoke(orgA, k.id, audit(orgA, k.id), 5000);
      const r2 = await store.keys.revoke(orgA, k.id, audit(orgA, k.id), 9000);
      assert.equal(r1?.revokedAt, 5000);
      assert.equal(r2?.revokedAt, 5000, 'the first revocation time is kept');
      assert.equal((await store.keys.lookup('hash-u'))?.key.revokedAt, 5000);
    });

    test('keys: rotate keeps the id, adds a secret, and puts a deadline on the old one', async () => {
      const k = makeKey(orgA);
      await store.keys.create(k, 'old-hash', audit(orgA, k.id));
      const rotated = await store.keys.rotate(orgA, k.id, { hash: 'new-hash', prefix: 'sk_live_zzzzzz', graceUntil: 123_456 }, audit(orgA, k.id));
      assert.equal(rotated?.id, k.id);
      assert.equal(rotated?.prefix, 'sk_live_zzzzzz');
      assert.equal((await store.keys.lookup('old-hash'))?.secretExpiresAt, 123_456);
      assert.equal((await store.keys.lookup('new-hash'))?.secretExpiresAt, null);
      // a second rotation with a later deadline never extends the first secret's life
      await store.keys.rotate(orgA, k.id, { hash: 'newer-hash', prefix: 'sk_live_yyyyyy', graceUntil: 999_999 }, audit(orgA, k.id));
      assert.equal((await store.keys.lookup('old-hash'))?.secretExpiresAt, 123_456);
      assert.equal((await store.keys.lookup('new-hash'))?.secretExpiresAt, 999_999);
      await store.keys.revoke(orgA, k.id, audit(orgA, k.id));
      assert.equal(await store.keys.rotate(orgA, k.id, { hash: 'h4', prefix: 'p', graceUntil: 0 }, audit(orgA, k.id)), undefined, 'a revoked key cannot be rotated');
    });

    test('keys: last-used write-behind never moves time backwards', async () => {
      const k = makeKey(orgA);
      await store.keys.create(k, 'hash-lu', audit(orgA, k.id));
      await store.keys.touchLastUsed(new Map([[k.id, 2000]]));
      await store.keys.touchLastUsed(new Map([[k.id, 1000]]));
      assert.equal((await store.keys.get(orgA, k.id))?.lastUsedAt, 2000);
    });

    test('every key mutation writes an audit event and a change-feed row', async () => {
      const cursor = await store.changes.latestId();
      const k = makeKey(orgA);
      await store.keys.create(k, 'hash-a', { ...audit(orgA, k.id), action: 'api_key.created' });
      await store.keys.update(orgA, k.id, { name: 'b' }, { ...audit(orgA, k.id), action: 'api_key.updated' });
      await store.keys.revoke(orgA, k.id, { ...audit(orgA, k.id), action: 'api_key.revoked' });
      const feed = await store.changes.since(cursor);
      assert.deepEqual(feed.map((c) => [c.kind, c.targetId]), [['key', k.id], ['key', k.id], ['key', k.id]]);
      const events = await store.audit.list(orgA, { limit: 10, targetId: k.id });
      assert.deepEqual(events.map((e) => e.action).sort(), ['api_key.created', 'api_key.revoked', 'api_key.updated']);
      assert.deepEqual(events[0]!.details, { n: 1 });
      assert.equal((await store.audit.list(orgB, { limit: 10, targetId: k.id })).length, 0);
    });

    test('change feed prune drops old rows only', async () => {
      const before = await store.changes.latestId();
      await store.changes.prune(60_000, Date.now() + 120_000);
      assert.equal((await store.changes.since(0)).length, 0);
      const k = makeKey(orgA);
      await store.keys.create(k, 'hash-p', audit(orgA, k.id));
      await store.changes.prune(60_000);
      assert.equal((await store.changes.since(before)).length, 1);
    });

    test('a failed transaction leaves nothing behind', async () => {
      const k = makeKey(orgA);
      await store.keys.create(k, 'hash-dup', audit(orgA, k.id));
      const k2 = makeKey(orgA);
      await assert.rejects(store.keys.create(k2, 'hash-dup', audit(orgA, k2.id)), 'duplicate secret hash');
      assert.equal(await store.keys.get(orgA, k2.id), undefined);
      assert.equal((await store.audit.list(orgA, { limit: 10, targetId: k2.id })).length, 0);
    });
  });
}
