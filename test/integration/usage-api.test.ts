/**
 * `GET /api/v1/usage` on SQLite and PostgreSQL: totals, every group_by, ranges (ISO and Unix
 * seconds, from inclusive, to exclusive), filters, CSV export, bad parameters, permission, and
 * organisation isolation. Rows are written straight through the repository at known times.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { backends } from '../support/backends.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { usageEvent } from '../support/usage-events.js';

const all = await backends();
const T0 = Date.UTC(2025, 0, 10); // 2025-01-10T00:00:00Z
const H = 3_600_000;
const EVIL_MODEL = '=HYPERLINK("http://x"),1';
const range = `from=${new Date(T0).toISOString()}&to=${new Date(T0 + 3 * 24 * H).toISOString()}`;
const METRICS = ['requests', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'cost_usd', 'errors'];

for (const backend of all) {
  describe(`usage API: ${backend.name}`, { skip: backend.skip }, () => {
    let t: TestApp;
    let drop: () => Promise<void>;
    let a1: string; // the admin key's id
    let a2: { id: string; key: string };
    let b: { id: string; key: string };
    const get = (query: string, key = t.adminKey) => t.call(`/api/v1/usage?${query}`, { key });

    before(async () => {
      const db = await backend.fresh();
      drop = db.drop;
      t = await startTestApp(db.url);
      const orgA = (await t.app.store.orgs.ensureDefault()).id;
      a2 = await t.createKey({ name: 'second', permissions: ['chat'] });
      b = await t.createKey({ orgSlug: 'beta', permissions: ['usage:read'] });
      const orgB = (await t.app.store.orgs.bySlug('beta'))!.id;
      a1 = (await t.app.keys.list(orgA, { limit: 10 })).find((k) => k.name === 'admin')!.id;
      const ev = (over: Parameters<typeof usageEvent>[0]) => usageEvent({ orgId: orgA, keyId: a1, ...over });
      await t.app.store.usage.insertBatch([
        ev({ createdAt: T0 + 1 * H, promptTokens: 10, completionTokens: 5, cachedTokens: 2, costUsd: 0.001 }),
        ev({ createdAt: T0 + 1.5 * H, promptTokens: 20, completionTokens: 10, cachedTokens: 0, costUsd: 0.002 }),
        ev({ createdAt: T0 + 2 * H, model: EVIL_MODEL, promptTokens: 1, completionTokens: 1, cachedTokens: 0, costUsd: 0.0001 }),
        // A stream that failed midway: status 200, but an error code.
        ev({ createdAt: T0 + 25 * H, keyId: a2.id, model: 'claude-sonnet-4-5', provider: 'anthropic', errorCode: 'upstream_error', promptTokens: 7, completionTokens: 3, cachedTokens: 0, costUsd: 0.0005 }),
        // Failed before a provider was chosen.
        ev({ createdAt: T0 + 26 * H, keyId: a2.id, model: 'gpt-5-nope', provider: null, upstreamModel: null, status: 404, errorCode: 'model_not_found', promptTokens: 0, completionTokens: 0, cachedTokens: 0, costUsd: 0 }),
        // Outside the range.
        ev({ createdAt: T0 - 1, promptTokens: 999 }),
        ev({ createdAt: T0 + 3 * 24 * H, promptTokens: 999 }),
        // Recent, for the default range (the last 30 days), and just outside it.
        ev({ createdAt: Date.now() - 24 * H, promptTokens: 3, completionTokens: 0, cachedTokens: 0 }),
        ev({ createdAt: Date.now() - 31 * 24 * H, promptTokens: 999 }),
      ]);
      await t.app.store.usage.insertBatch([
        usageEvent({ orgId: orgB, keyId: b.id, createdAt: T0 + 1 * H, promptTokens: 1000, completionTokens: 1000, cachedTokens: 0, costUsd: 1 }),
      ]);
    });
    after(async () => { await t?.close(); await drop?.(); });

    test('totals over a range; errors count 4xx/5xx and mid-stream failures; data empty without group_by', async () => {
      const r = await get(range);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, {
        object: 'usage', from: '2025-01-10T00:00:00.000Z', to: '2025-01-13T00:00:00.000Z', group_by: null,
        totals: { requests: 5, prompt_tokens: 38, completion_tokens: 19, cached_tokens: 2, cost_usd: 0.0036, errors: 2 },
        data: [],
      });
    });

    test('group_by key, model, provider and status', async () => {
      const byKey = (await get(`${range}&group_by=key`)).json;
      assert.equal(byKey.group_by, 'key');
      assert.deepEqual(new Map(byKey.data.map((d: any) => [d.key_id, d.requests])), new Map([[a1, 3], [a2.id, 2]]));
      assert.deepEqual(Object.keys(byKey.data[0]), ['key_id', ...METRICS]);
      assert.deepEqual(byKey.totals, (await get(range)).json.totals, 'totals add up to the groups');

      const byModel = (await get(`${range}&group_by=model`)).json.data;
      assert.deepEqual(byModel.map((d: any) => [d.model, d.requests, d.prompt_tokens]).sort(), [
        [EVIL_MODEL, 1, 1], ['claude-sonnet-4-5', 1, 7], ['gpt-4o-mini', 2, 30], ['gpt-5-nope', 1, 0],
      ].sort());

      const byProvider = (await get(`${range}&group_by=provider`)).json.data;
      assert.deepEqual(byProvider.map((d: any) => [d.provider, d.requests, d.errors]), [['anthropic', 1, 1], ['openai', 3, 0], [null, 1, 1]], 'null (no provider) last');

      const byStatus = (await get(`${range}&group_by=status`)).json.data;
      assert.deepEqual(byStatus.map((d: any) => [d.status, d.requests, d.errors]), [[200, 4, 1], [404, 1, 1]]);
    });

    test('group_by day and hour: UTC buckets as ISO timestamps', async () => {
      const days = (await get(`${range}&group_by=day`)).json.data;
      assert.deepEqual(days.map((d: any) => [d.day, d.requests, d.prompt_tokens]), [
        ['2025-01-10T00:00:00.000Z', 3, 31], ['2025-01-11T00:00:00.000Z', 2, 7],
      ]);
      const hours = (await get(`${range}&group_by=hour`)).json.data;
      assert.deepEqual(hours.map((d: any) => [d.hour, d.requests]), [
        ['2025-01-10T01:00:00.000Z', 2], ['2025-01-10T02:00:00.000Z', 1], ['2025-01-11T01:00:00.000Z', 1], ['2025-01-11T02:00:00.000Z', 1],
      ]);
      assert.equal(hours[0].cost_usd, 0.003);
    });

    test('ranges: from inclusive, to exclusive; Unix seconds; offsets; the default is the last 30 days', async () => {
      const exact = (await get(`from=${new Date(T0 + 1.5 * H).toISOString()}&to=${new Date(T0 + 2 * H).toISOString()}`)).json;
      assert.equal(exact.totals.requests, 1);
      assert.equal(exact.totals.prompt_tokens, 20);
      const secs = (await get(`from=${T0 / 1000}&to=${T0 / 1000 + 86_400}`)).json;
      assert.equal(secs.totals.requests, 3);
      assert.equal(secs.from, '2025-01-10T00:00:00.000Z');
      const offset = (await get(`from=${encodeURIComponent('2025-01-10T02:00:00+01:00')}&to=2025-01-10T01:30:00Z`)).json;
      assert.equal(offset.totals.requests, 1, '02:00+01:00 is 01:00Z');
      const dateOnly = (await get('from=2025-01-11&to=2025-01-12')).json;
      assert.equal(dateOnly.totals.requests, 2);
      const def = (await get('')).json;
      assert.equal(Date.parse(def.to) - Date.parse(def.from), 30 * 24 * H);
      assert.ok(Math.abs(Date.parse(def.to) - Date.now()) < 60_000);
      assert.deepEqual([def.totals.requests, def.totals.prompt_tokens], [1, 3]);
    });

    test('key_id and model filters', async () => {
      const k = (await get(`${range}&key_id=${a2.id}`)).json.totals;
      assert.deepEqual([k.requests, k.prompt_tokens, k.errors], [2, 7, 2]);
      const m = (await get(`${range}&model=gpt-4o-mini&group_by=key`)).json;
      assert.deepEqual(m.data.map((d: any) => [d.key_id, d.requests]), [[a1, 2]]);
      const evil = (await get(`${range}&model=${encodeURIComponent(EVIL_MODEL)}`)).json.totals;
      assert.equal(evil.requests, 1);
    });

    test('CSV export: header, one row per group or one totals row, escaped values', async () => {
      const r = await get(`${range}&group_by=model&format=csv`);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type')!, /^text\/csv/);
      assert.equal(r.headers.get('content-disposition'), 'attachment; filename=usage.csv');
      const lines = r.text.split('\r\n');
      assert.equal(lines.pop(), '', 'ends with CRLF');
      assert.equal(lines[0], `model,${METRICS.join(',')}`);
      assert.equal(lines.length, 5);
      assert.ok(lines.includes('gpt-4o-mini,2,30,15,2,0.003,0'), lines.join('\n'));
      // Quoted (a comma and quotes inside) and defused as a formula.
      assert.ok(lines.includes(`"'=HYPERLINK(""http://x""),1",1,1,1,0,0.0001,0`), lines.join('\n'));
      const totals = await get(`${range}&format=csv`);
      assert.equal(totals.text, `${METRICS.join(',')}\r\n5,38,19,2,0.0036,2\r\n`);
      const days = await get(`${range}&group_by=day&format=csv`);
      assert.equal(days.text.split('\r\n')[1], '2025-01-10T00:00:00.000Z,3,31,16,2,0.0031,0');
    });

    test('bad parameters answer 400 naming the parameter', async () => {
      const cases: [string, string][] = [
        ['from=yesterday', 'from'], ['to=2025-02-30', 'to'], ['from=2025-01-10T24:00:00Z', 'from'],
        ['group_by=week', 'group_by'], ['format=xml', 'format'], ['colour=blue', 'colour'],
        [`from=${T0 / 1000}&to=${T0 / 1000}`, 'from'], ['from=2025-01-12&to=2025-01-11', 'from'],
        [`key_id=${'k'.repeat(65)}`, 'key_id'], ['model=a&model=b', 'model'],
      ];
      for (const [query, param] of cases) {
        const r = await get(query);
        assert.equal(r.status, 400, query);
        assert.equal(r.json.error.code, 'invalid_request', query);
        assert.equal(r.json.error.param, param, query);
      }
    });

    test('permission: usage:read is required (403), a key is required (401)', async () => {
      const r = await get(range, a2.key);
      assert.equal(r.status, 403);
      assert.equal(r.json.error.code, 'insufficient_permissions');
      assert.match(r.json.error.message, /usage:read/);
      assert.equal((await t.call(`/api/v1/usage?${range}`)).status, 401);
    });

    test('organisation isolation: another organisation\'s usage is invisible, even by its key id', async () => {
      const foreign = (await get(`${range}&key_id=${b.id}&group_by=key`)).json;
      assert.deepEqual([foreign.totals.requests, foreign.data], [0, []]);
      const own = (await get(`${range}&group_by=key`, b.key)).json;
      assert.deepEqual(own.data.map((d: any) => [d.key_id, d.requests, d.prompt_tokens]), [[b.id, 1, 1000]]);
      const withA = (await get(`${range}&key_id=${a1}`, b.key)).json.totals;
      assert.equal(withA.requests, 0);
    });

    test('through the OpenAI SDK (the reference client)', async () => {
      const client = new OpenAI({ apiKey: t.adminKey, baseURL: `${t.url}/api/v1`, maxRetries: 0 });
      const r = await client.get<any>('/usage', { query: { from: T0 / 1000, to: T0 / 1000 + 3 * 86_400, group_by: 'status' } });
      assert.equal(r.object, 'usage');
      assert.deepEqual(r.data.map((d: any) => d.status), [200, 404]);
      await assert.rejects(client.get('/usage', { query: { group_by: 'week' } }), (e: unknown) => e instanceof OpenAI.BadRequestError && (e as any).param === 'group_by');
    });

    test('provider filter (the dashboard\'s Usage page)', async () => {
      const res = await get(`${range}&provider=anthropic`);
      assert.equal(res.status, 200);
      assert.equal(res.json.totals.requests, 1);
      assert.equal(res.json.totals.prompt_tokens, 7);
      const openai = await get(`${range}&provider=openai&group_by=model`);
      assert.deepEqual(openai.json.data.map((d: any) => d.model).sort(), [EVIL_MODEL, 'gpt-4o-mini'].sort());
    });

    test('GET /usage/errors: the latest failed requests in the range, newest first, with the same filters and scope', async () => {
      const res = await t.call(`/api/v1/usage/errors?${range}`, { key: t.adminKey });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json.data.map((e: any) => [e.model, e.status, e.error_code]), [
        ['gpt-5-nope', 404, 'model_not_found'],
        ['claude-sonnet-4-5', 200, 'upstream_error'],
      ]);
      assert.equal(res.json.data[0].key_id, a2.id);
      assert.equal((await t.call(`/api/v1/usage/errors?${range}&provider=anthropic`, { key: t.adminKey })).json.data.length, 1);
      assert.equal((await t.call(`/api/v1/usage/errors?${range}&limit=1`, { key: t.adminKey })).json.data.length, 1);
      assert.deepEqual((await t.call(`/api/v1/usage/errors?${range}`, { key: b.key })).json.data, [], 'another organisation sees none');
      assert.equal((await t.call(`/api/v1/usage/errors?${range}&limit=0`, { key: t.adminKey })).status, 400);
      assert.equal((await t.call(`/api/v1/usage/errors?${range}`, { key: a2.key })).status, 403, 'needs usage:read');
    });
  });
}
