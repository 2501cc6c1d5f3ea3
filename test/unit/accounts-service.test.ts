/** ProviderAccountService.resolve over a stub store: outages, shared loads, changes during a load; and the fetch probe. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProviderAccountService } from '../../src/accounts/service.js';
import { createCredentialCipher } from '../../src/accounts/crypto.js';
import { createFetchProbe } from '../../src/accounts/probe.js';
import type { StoredProviderAccount } from '../../src/accounts/types.js';
import type { Store } from '../../src/store/index.js';
import { ApiError } from '../../src/errors.js';

const cipher = createCredentialCipher('unit-test-secret-unit-test-secret-0123456789');

function row(orgId: string, apiKey: string): StoredProviderAccount {
  return {
    id: 'prv_1', orgId, provider: 'openai', name: 'OpenAI',
    config: { baseUrl: null, apiVersion: null, projectId: null, location: null, credential: 'api_key' },
    secretCiphertext: cipher.encrypt(JSON.stringify({ apiKey }), { orgId, provider: 'openai' }),
    secretHint: null, createdAt: 0, updatedAt: 0, createdBy: 'cli',
  };
}

/** A store whose `list` is answered by the test. */
function stubStore(list: (orgId: string) => Promise<StoredProviderAccount[]>): { store: Store; calls: () => number } {
  let calls = 0;
  const store = { providerAccounts: { list: (orgId: string) => { calls++; return list(orgId); } } } as unknown as Store;
  return { store, calls: () => calls };
}

test('an unreachable store is service_unavailable for a cold organisation; a warm one keeps working', async () => {
  let up = true;
  const { store } = stubStore(async (orgId) => { if (!up) throw new Error('connection refused'); return [row(orgId, 'sk-warm-0123456789')]; });
  const svc = new ProviderAccountService({ store, cipher });
  assert.equal((await svc.resolve('org_warm', 'openai'))?.apiKey, 'sk-warm-0123456789');
  up = false;
  assert.equal((await svc.resolve('org_warm', 'openai'))?.apiKey, 'sk-warm-0123456789', 'served from memory');
  await assert.rejects(svc.resolve('org_cold', 'openai'), (e: unknown) => e instanceof ApiError && e.code === 'service_unavailable');
});

test('concurrent misses for one organisation share one store lookup', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const { store, calls } = stubStore(async (orgId) => { await gate; return [row(orgId, 'sk-shared-0123456789')]; });
  const svc = new ProviderAccountService({ store, cipher });
  const pending = Array.from({ length: 20 }, (_, i) => (i % 2 ? svc.resolve('org_x', 'openai') : svc.providers('org_x')));
  release();
  await Promise.all(pending);
  assert.equal(calls(), 1);
});

test('a change during a lookup: the old rows are neither cached nor handed to later callers', async () => {
  let key = 'sk-before-0123456789';
  const gates: (() => void)[] = [];
  const { store, calls } = stubStore(async (orgId) => {
    const seen = key; // what the database held when the query ran
    await new Promise<void>((r) => gates.push(r));
    return [row(orgId, seen)];
  });
  const svc = new ProviderAccountService({ store, cipher });
  const early = svc.resolve('org_y', 'openai');
  await new Promise((r) => setImmediate(r));
  key = 'sk-after-01234567890';
  svc.invalidateOrg('org_y'); // the change feed reports the update while the lookup is in flight
  const late = svc.resolve('org_y', 'openai');
  await new Promise((r) => setImmediate(r));
  // The fresh lookup finishes first; the stale one must not overwrite it when it lands.
  gates[1]!();
  assert.equal((await late)?.apiKey, 'sk-after-01234567890', 'a caller after the change does not join the stale lookup');
  gates[0]!();
  assert.equal((await early)?.apiKey, 'sk-before-0123456789');
  gates.length = 0;
  assert.equal((await svc.resolve('org_y', 'openai'))?.apiKey, 'sk-after-01234567890', 'from memory: the stale result was not cached');
  assert.equal(calls(), 2);
});

test('the cache is bounded by organisations', async () => {
  const { store } = stubStore(async (orgId) => [row(orgId, 'sk-bounded-0123456789')]);
  const svc = new ProviderAccountService({ store, cipher, cacheSize: 10 });
  for (let i = 0; i < 100; i++) await svc.resolve(`org_${i}`, 'openai');
  assert.equal(svc.cache.size, 10);
});

test('the fetch probe never follows a redirect (provider auth headers must not travel)', async () => {
  let leaked = 0;
  const target = createServer((_req, res) => { leaked++; res.end('{}'); });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const to = `http://127.0.0.1:${(target.address() as AddressInfo).port}/v1/models`;
  const redirector = createServer((_req, res) => { res.writeHead(302, { location: to }); res.end(); });
  await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
  try {
    const from = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/v1/models`;
    const res = await createFetchProbe(2000)({ method: 'GET', url: from, headers: { 'api-key': 'secret' } });
    assert.equal(res.status, 302);
    assert.equal(leaked, 0);
  } finally {
    target.close();
    redirector.close();
  }
});
