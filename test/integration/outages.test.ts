/**
 * Outages, for real:
 * - Redis (a private redis-server started by the test) is killed in the middle of traffic on two
 *   instances: every request keeps being served, limits are enforced per instance (and said so in
 *   the logs, /readyz and /metrics), invalidation falls back to polling; when Redis returns, the
 *   instances share their limits (and push invalidations) again.
 * - The store (PostgreSQL, behind a TCP proxy the test cuts): a key verified before keeps working
 *   within the grace period, a key never seen gets 503 `service_unavailable` (never 401), usage rows
 *   queue and are all written once the store is back; /readyz and /metrics show the outage.
 * - The PostgreSQL LISTEN connection killed: noticed, polled meanwhile, logged and counted, back.
 * - The store hung (connections open, nothing answers): requests fail fast with 503 instead of
 *   waiting for TCP, cached keys are served, and everything recovers when it answers again.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type GatewayFixture } from '../support/gateway.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { sql } from 'kysely';
import { startLedgerGateway, type LedgerGateway } from '../support/usage.js';
import { backends } from '../support/backends.js';
import { privateRedisSkip, startPrivateRedis, type PrivateRedis } from '../support/private-redis.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { assertRateLimited, keyWith } from '../support/limits.js';
import { waitFor } from '../support/usage-events.js';
import { generateKey } from '../../src/keys/format.js';
import { openStore, type Store } from '../../src/store/index.js';

const hi = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] };
const redisSkip = privateRedisSkip();
const pgBackend = (await backends()).find((b) => b.name === 'postgres')!;

/** The value of an unlabelled metric in Prometheus text. */
function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `metric ${name} present`);
  return Number(line.split(' ')[1]);
}

describe('Redis stopped in the middle of traffic, then restarted', { skip: redisSkip }, () => {
  let redis: PrivateRedis;
  let g: GatewayFixture;
  let a: TestApp;
  let b: TestApp;
  before(async () => {
    redis = await startPrivateRedis();
    g = await startGateway({ REDIS_URL: redis.url, BACKBONE_LIMITS_PROBE_MS: '200', BACKBONE_REDIS_TIMEOUT_MS: '300' });
    a = g.t;
    b = await g.startPeer();
    await waitFor(() => [a, b].every((t) => t.app.changes.state().mode === 'push'), 10_000, 'subscribed');
  });
  after(async () => {
    await g?.close();
    await redis?.close();
  });

  const chat = (t: TestApp, key: string) => t.call('/api/v1/chat/completions', { key, body: hi });
  const both = [() => a, () => b];

  test('requests keep flowing, limits hold per instance, and sharing resumes when Redis returns', async () => {
    const shared = await keyWith(a, { rpm: 4 });
    const first = await Promise.all(Array.from({ length: 6 }, (_, i) => chat(both[i % 2]!(), shared.key)));
    assert.equal(first.filter((r) => r.status === 200).length, 4, 'shared before the outage');
    assert.equal((await a.call('/readyz')).json.checks.limits.mode, 'shared');

    // Background traffic (a key without limits) across both instances through the whole outage.
    const statuses: number[] = [];
    let traffic = true;
    const loops = Array.from({ length: 4 }, (_, i) => (async () => {
      while (traffic) statuses.push((await chat(both[i % 2]!(), g.t.adminKey)).status);
    })());
    await waitFor(() => statuses.length >= 20, 10_000, 'traffic');

    await redis.stop();
    const local = await keyWith(a, { rpm: 3 });
    const during = await Promise.all(Array.from({ length: 16 }, (_, i) => chat(both[i % 2]!(), local.key)));
    assert.equal(during.filter((r) => r.status === 200).length, 6, 'rpm 3 enforced by each of the two instances on its own');
    for (const r of during.filter((x) => x.status !== 200)) assertRateLimited(r);

    for (const t of [a, b]) {
      const ready = await t.call('/readyz');
      assert.equal(ready.status, 200, 'still ready: requests flow');
      assert.equal(ready.json.checks.limits.store, 'redis');
      assert.equal(ready.json.checks.limits.mode, 'local');
      await waitFor(() => t.app.changes.state().mode === 'poll', 5000, 'invalidation falls back to polling');
      const m = (await t.call('/metrics')).text;
      assert.equal(metric(m, 'backbone_limits_shared'), 0);
      assert.equal(metric(m, 'backbone_invalidation_push'), 0);
      assert.ok(metric(m, 'backbone_limits_fallbacks_total') >= 1);
      assert.equal(t.logs.filter((l) => /limit store \(redis\) unreachable/.test(l)).length, 1, 'logged once');
      assert.ok(t.logs.some((l) => /invalidation channel \(redis\) dropped/.test(l)));
    }
    // Revocation still reaches the other instance, through the poll.
    const doomed = await a.createKey({ name: 'revoked during the outage' });
    assert.equal((await b.call('/api/v1/models', { key: doomed.key })).status, 200);
    assert.equal((await a.call(`/api/v1/keys/${doomed.id}/revoke`, { method: 'POST', key: a.adminKey })).status, 200);
    await waitFor(async () => (await b.call('/api/v1/models', { key: doomed.key })).status === 401, 5000, 'revocation through the poll');

    await redis.start();
    await waitFor(() => [a, b].every((t) => t.app.limiter.store instanceof Object && (t.app.limiter.store as any).state().mode === 'shared'), 15_000, 'shared limits again');
    await waitFor(() => [a, b].every((t) => t.app.changes.state().mode === 'push'), 15_000, 'invalidation channel back');
    traffic = false;
    await Promise.all(loops);
    assert.ok(statuses.length > 40, `${statuses.length} background requests`);
    assert.deepEqual([...new Set(statuses)], [200], 'every background request was served through the outage');

    const after = await keyWith(a, { rpm: 5 });
    const resumed = await Promise.all(Array.from({ length: 14 }, (_, i) => chat(both[i % 2]!(), after.key)));
    assert.equal(resumed.filter((r) => r.status === 200).length, 5, 'exactly 5 across both: shared again');
    assert.equal((await b.call('/readyz')).json.checks.limits.mode, 'shared');
    assert.equal(metric((await b.call('/metrics')).text, 'backbone_limits_shared'), 1);
    assert.ok(b.logs.some((l) => /limit store \(redis\) reachable again/.test(l)));
  });
});

describe('the store (PostgreSQL) cut, then restored', { skip: pgBackend.skip }, () => {
  let proxy: TcpProxy;
  let gw: LedgerGateway;
  let direct: Store;
  let drop: () => Promise<void>;
  before(async () => {
    const db = await pgBackend.fresh();
    drop = db.drop;
    const u = new URL(db.url);
    proxy = await startTcpProxy(u.hostname, Number(u.port || 5432));
    gw = await startLedgerGateway(proxy.via(db.url), { BACKBONE_STORE_OUTAGE_GRACE_SECONDS: '3', BACKBONE_INVALIDATION_BUS: 'poll' });
    direct = await openStore(db.url);
  });
  after(async () => {
    proxy?.restore();
    await gw?.close();
    await direct?.close();
    await proxy?.close();
    await drop?.();
  });

  test('cached keys work within the grace period, new keys get 503, usage rows queue and land after', async () => {
    const t = gw.t;
    const cached = await t.createKey({ name: 'verified before' });
    const fresh = await t.createKey({ name: 'never used here' });
    await t.app.changes.poll(); // the feed's rows for both creations, read before the key is cached
    assert.equal((await t.call('/api/v1/chat/completions', { key: cached.key, body: hi })).status, 200);
    await waitFor(() => t.app.ledger.stats().queued === 0, 5000, 'the first row written');
    assert.equal((await t.call('/api/v1/keys', { key: t.adminKey })).status, 200);

    proxy.cut();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await t.call('/api/v1/chat/completions', { key: cached.key, body: hi });
      assert.equal(r.status, 200, r.text);
      ids.push(r.headers.get('x-request-id')!);
    }
    for (const key of [fresh.key, generateKey('live').key]) {
      const r = await t.call('/api/v1/models', { key });
      assert.equal(r.status, 503, r.text);
      assert.deepEqual(r.json.error, { message: r.json.error.message, type: 'api_error', code: 'service_unavailable' });
    }
    const listing = await t.call('/api/v1/keys', { key: t.adminKey });
    assert.equal(listing.status, 503, 'a management route that needs the store: 503, not 500');
    assert.equal(listing.json.error.code, 'service_unavailable');
    const ready = await t.call('/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.json.checks.store, 'unreachable');
    assert.equal(ready.json.checks.store_outage.reachable, false);
    assert.ok(ready.json.checks.store_outage.grace_left_s <= 3);
    await waitFor(() => t.app.ledger.stats().queued >= 5, 5000, 'rows queued');
    const m = (await t.call('/metrics')).text;
    assert.equal(metric(m, 'backbone_store_up'), 0);
    assert.ok(metric(m, 'backbone_usage_queue_depth') >= 5);
    assert.ok(t.logs.some((l) => /store unreachable: keys already verified keep working/.test(l)));

    // Past the grace period even a cached key is refused — with 503, not 401.
    let last: { status: number; json: any } | undefined;
    await waitFor(async () => (last = await t.call('/api/v1/chat/completions', { key: cached.key, body: hi })).status !== 200, 15_000, 'the grace period to end');
    assert.equal(last!.status, 503);
    assert.equal(last!.json.error.code, 'service_unavailable');
    assert.ok(Date.now() - t.app.health.state().down_since! >= 3000, 'not before the grace period ended');

    proxy.restore();
    await waitFor(async () => (await t.call('/readyz')).status === 200, 15_000, 'ready again');
    await waitFor(() => t.app.ledger.stats().queued === 0, 40_000, 'the queued rows written');
    const rows = await direct.db.kysely.selectFrom('usage_events').select('id').where('id', 'in', ids).execute();
    assert.equal(rows.length, 5, 'every request served during the outage has its row');
    assert.equal(t.app.ledger.stats().dropped, 0);
    assert.equal((await t.call('/api/v1/chat/completions', { key: cached.key, body: hi })).status, 200);
    assert.equal((await t.call('/api/v1/models', { key: fresh.key })).status, 200);
  });
});

describe('the PostgreSQL LISTEN connection killed', { skip: pgBackend.skip }, () => {
  let t: TestApp;
  let drop: () => Promise<void>;
  let url: string;
  before(async () => {
    const db = await pgBackend.fresh();
    drop = db.drop;
    url = db.url;
    t = await startTestApp(url, { BACKBONE_INVALIDATION_POLL_MS: '500' });
    await waitFor(() => t.app.changes.state().mode === 'push', 10_000, 'listening');
  });
  after(async () => {
    await t?.close();
    await drop?.();
  });

  test('the instance notices, polls meanwhile, says so, and listens again', async () => {
    const admin = await openStore(url);
    try {
      const { rows } = await sql<{ n: number }>`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = current_database() and application_name = 'backbone-listen'`.execute(admin.db.kysely);
      assert.equal(rows[0]!.n, 1, 'one LISTEN connection');
    } finally {
      await admin.close();
    }
    await waitFor(() => t.app.changes.state().drops === 1, 5000, 'the drop noticed');
    assert.ok(t.logs.some((l) => /invalidation channel \(postgres\) dropped; polling the change feed every 500 ms/.test(l)));
    await waitFor(() => t.app.changes.state().mode === 'push', 10_000, 'listening again');
    assert.ok(t.logs.some((l) => /invalidation channel is back/.test(l)));
    const m = (await t.call('/metrics')).text;
    assert.equal(metric(m, 'backbone_invalidation_channel_drops_total'), 1);
    assert.equal(metric(m, 'backbone_invalidation_push'), 1);
    assert.equal((await t.call('/readyz')).json.checks.invalidation.drops, 1);
  });
});

describe('the store (PostgreSQL) hung, then answering again', { skip: pgBackend.skip }, () => {
  let proxy: TcpProxy;
  let gw: LedgerGateway;
  let drop: () => Promise<void>;
  before(async () => {
    const db = await pgBackend.fresh();
    drop = db.drop;
    const u = new URL(db.url);
    proxy = await startTcpProxy(u.hostname, Number(u.port || 5432));
    gw = await startLedgerGateway(proxy.via(db.url), {
      BACKBONE_DB_CONNECT_TIMEOUT_MS: '1000', BACKBONE_DB_QUERY_TIMEOUT_MS: '1000',
      BACKBONE_STORE_OUTAGE_GRACE_SECONDS: '120', BACKBONE_INVALIDATION_BUS: 'poll',
    });
  });
  after(async () => {
    proxy?.restore();
    await gw?.close();
    await proxy?.close();
    await drop?.();
  });

  // Without the store timeouts the first request below never answers: the timeout turns that hang into a failure.
  test('a store that stops answering (no error, no close) fails fast: 503 for new keys, cached keys served, no request hangs', { timeout: 90_000 }, async () => {
    const t = gw.t;
    const cached = await t.createKey({ name: 'verified before' });
    const fresh = await t.createKey({ name: 'never used here' });
    await t.app.changes.poll();
    assert.equal((await t.call('/api/v1/chat/completions', { key: cached.key, body: hi })).status, 200);

    proxy.hang();
    // Bounded by the 1 s connect and query timeouts (plus the pool's queue), not by TCP's minutes.
    const timed = async (key: string) => {
      const t0 = Date.now();
      const r = await t.call('/api/v1/models', { key });
      return { ...r, ms: Date.now() - t0 };
    };
    const unseen = await timed(fresh.key);
    assert.equal(unseen.status, 503, unseen.text);
    assert.equal(unseen.json.error.code, 'service_unavailable');
    assert.ok(unseen.ms < 10_000, `answered after ${unseen.ms} ms`);
    const served = await t.call('/api/v1/chat/completions', { key: cached.key, body: hi });
    assert.equal(served.status, 200, served.text);
    await waitFor(async () => (await t.call('/readyz')).status === 503, 15_000, '/readyz to report the hung store');
    assert.equal(t.app.health.state().reachable, false);

    proxy.restore();
    await waitFor(async () => (await t.call('/readyz')).status === 200, 30_000, 'ready again');
    assert.equal((await t.call('/api/v1/models', { key: fresh.key })).status, 200);
    await waitFor(() => t.app.ledger.stats().queued === 0, 40_000, 'the queued rows written');
    assert.equal(t.app.ledger.stats().dropped, 0);
  });
});
