/**
 * Rate limits and budgets through the real HTTP stack on one node (memory counters): exact rpm
 * under concurrency, OpenAI's headers on every gateway response, concurrency, tpm, a budget race,
 * and limits on keys through the key API. Two nodes on Redis: limits-redis.test.ts.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { collect, startGateway, type GatewayFixture } from '../support/gateway.js';
import { assertRateLimited, keyWith } from '../support/limits.js';
import OpenAI from 'openai';

const RESET = /^(\d+ms|(\d+h)?(\d+m)?\d+(\.\d+)?s)$/;
const hi = (extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], ...extra });

describe('limits on one node (memory)', () => {
  let g: GatewayFixture;
  before(async () => { g = await startGateway(); });
  after(async () => { await g?.close(); });

  test('rpm is exact: a limit of 5 admits exactly 5 of 17 concurrent requests; the rest get 429 with Retry-After', async () => {
    const { key } = await keyWith(g.t, { rpm: 5 });
    const before = g.fakes.openai.requests.length;
    const all = await Promise.all(Array.from({ length: 17 }, () => g.t.call('/api/v1/chat/completions', { key, body: hi() })));
    const ok = all.filter((r) => r.status === 200);
    assert.equal(ok.length, 5);
    assert.equal(g.fakes.openai.requests.length - before, 5, 'refused requests never reach the provider');
    for (const r of all.filter((x) => x.status !== 200)) {
      assertRateLimited(r);
      assert.ok(Number(r.headers.get('retry-after')) <= 60);
      assert.equal(r.headers.get('x-ratelimit-limit-requests'), '5');
      assert.equal(r.headers.get('x-ratelimit-remaining-requests'), '0');
      assert.match(r.headers.get('x-ratelimit-reset-requests')!, RESET);
      assert.match(r.json.error.message, /5 requests per minute/);
    }
    const remaining = ok.map((r) => Number(r.headers.get('x-ratelimit-remaining-requests'))).sort();
    assert.deepEqual(remaining, [0, 1, 2, 3, 4], 'each admitted request saw its own place in the window');
  });

  test('x-ratelimit-* headers are on every gateway response: JSON, stream, errors after admission, embeddings, audio', async () => {
    const { key } = await keyWith(g.t, { rpm: 50, tpm: 100_000 });
    const check = (h: Headers, what: string) => {
      assert.equal(h.get('x-ratelimit-limit-requests'), '50', what);
      assert.match(h.get('x-ratelimit-remaining-requests') ?? '', /^\d+$/, what);
      assert.match(h.get('x-ratelimit-reset-requests') ?? '', RESET, what);
      assert.equal(h.get('x-ratelimit-limit-tokens'), '100000', what);
      assert.match(h.get('x-ratelimit-remaining-tokens') ?? '', /^\d+$/, what);
      assert.match(h.get('x-ratelimit-reset-tokens') ?? '', RESET, what);
    };
    const json = await g.t.call('/api/v1/chat/completions', { key, body: hi() });
    assert.equal(json.status, 200);
    check(json.headers, 'chat');
    const stream = await fetch(`${g.t.url}/api/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(hi({ stream: true })),
    });
    assert.equal(stream.status, 200);
    check(stream.headers, 'stream');
    assert.match(await stream.text(), /\[DONE\]/);
    const unknown = await g.t.call('/api/v1/chat/completions', { key, body: hi({ model: 'no-such-model' }) });
    assert.equal(unknown.status, 404);
    check(unknown.headers, 'model_not_found');
    const bad = await g.t.call('/api/v1/chat/completions', { key, body: { model: 'gpt-4o-mini' } });
    assert.equal(bad.status, 400);
    check(bad.headers, 'invalid body');
    const upstreamDown = (g.fakes.openai.fault({ type: 'status', status: 400 }), await g.t.call('/v1/chat/completions', { key, body: hi() }));
    assert.equal(upstreamDown.status, 400);
    check(upstreamDown.headers, 'provider error, /v1 prefix');
    const emb = await g.t.call('/api/v1/embeddings', { key, body: { model: 'text-embedding-3-small', input: 'hello' } });
    assert.equal(emb.status, 200);
    check(emb.headers, 'embeddings');
    const form = new FormData();
    form.append('file', new Blob([Buffer.from('RIFF....WAVEfmt ')], { type: 'audio/wav' }), 'a.wav');
    form.append('model', 'whisper-1');
    const audio = await fetch(`${g.t.url}/api/v1/audio/transcriptions`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form });
    assert.equal(audio.status, 200, await audio.clone().text());
    check(audio.headers, 'audio');
    // Through the SDK too: its users read the same headers.
    const client = new OpenAI({ apiKey: key, baseURL: `${g.t.url}/api/v1`, maxRetries: 0 });
    const { response } = await client.chat.completions.create(hi() as never).withResponse();
    check(response.headers, 'sdk');
    assert.equal(Number(response.headers.get('x-ratelimit-remaining-requests')), 50 - 8);
  });

  test('concurrency: a third request while two are in flight gets 429; the slots come back when they end', async () => {
    const { key } = await keyWith(g.t, { concurrency: 2 });
    g.fakes.openai.fault({ type: 'delay', ms: 400 });
    g.fakes.openai.fault({ type: 'delay', ms: 400 });
    const slow = [g.t.call('/api/v1/chat/completions', { key, body: hi() }), g.t.call('/api/v1/chat/completions', { key, body: hi() })];
    await new Promise((r) => setTimeout(r, 150));
    const third = await g.t.call('/api/v1/chat/completions', { key, body: hi() });
    assertRateLimited(third);
    assert.equal(third.headers.get('retry-after'), '1');
    assert.match(third.json.error.message, /concurrent/);
    assert.deepEqual((await Promise.all(slow)).map((r) => r.status), [200, 200]);
    assert.equal((await g.t.call('/api/v1/chat/completions', { key, body: hi() })).status, 200);
    // A stream the client abandons gives its slot back too.
    g.fakes.openai.fault({ type: 'slow-stream', intervalMs: 200 });
    const controller = new AbortController();
    const res = await fetch(`${g.t.url}/api/v1/chat/completions`, {
      method: 'POST', signal: controller.signal, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(hi({ stream: true })),
    });
    assert.equal(res.status, 200);
    controller.abort();
    await new Promise((r) => setTimeout(r, 150));
    const after = await Promise.all([g.t.call('/api/v1/chat/completions', { key, body: hi() }), g.t.call('/api/v1/chat/completions', { key, body: hi() })]);
    assert.deepEqual(after.map((r) => r.status), [200, 200]);
  });

  test('tpm: checked before, counted with the actual tokens after; 429 once the window is used up', async () => {
    const { key } = await keyWith(g.t, { tpm: 40 });
    const first = await g.t.call('/api/v1/chat/completions', { key, body: hi() });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-ratelimit-remaining-tokens'), '40');
    assert.equal(first.headers.get('x-ratelimit-limit-requests'), null, 'no request limit, no request headers');
    const second = await g.t.call('/api/v1/chat/completions', { key, body: hi() });
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('x-ratelimit-remaining-tokens'), String(40 - 17), 'the first answer used 17 tokens');
    const streamed = await collect(await new OpenAI({ apiKey: key, baseURL: `${g.t.url}/api/v1`, maxRetries: 0 }).chat.completions.create({ ...hi(), stream: true } as never) as never);
    assert.equal(streamed.content, 'Hello from openai!', 'a stream is counted too (34 < 40 before it)');
    const third = await g.t.call('/api/v1/chat/completions', { key, body: hi() });
    assertRateLimited(third);
    assert.equal(third.headers.get('x-ratelimit-remaining-tokens'), '0');
    assert.match(third.json.error.message, /40 tokens per minute/);
  });

  test('budget race: 12 concurrent requests against a budget that fits 4 worst cases never overspend', async () => {
    // Each request reserves its worst case, ~$0.00000465 (11 estimated prompt + 5 output tokens of
    // gpt-4o-mini), and costs $0.0000045: 4 fit in the budget. Checking the budget before and
    // recording after would let all 12 through.
    const budget = 0.00002;
    const { key, id } = await keyWith(g.t, { budgetUsd: budget, budgetPeriod: 'month' });
    for (let i = 0; i < 12; i++) g.fakes.openai.fault({ type: 'delay', ms: 200 }); // all in flight together
    const all = await Promise.all(Array.from({ length: 12 }, () => g.t.call('/api/v1/chat/completions', { key, body: hi({ max_tokens: 5 }) })));
    g.fakes.openai.clearFaults();
    const ok = all.filter((r) => r.status === 200);
    const refused = all.filter((r) => r.status === 429);
    assert.ok(ok.length >= 1 && ok.length <= 4, `${ok.length} served`);
    assert.equal(ok.length + refused.length, 12);
    for (const r of refused) {
      assert.equal(r.json.error.code, 'insufficient_quota');
      assert.equal(r.json.error.type, 'insufficient_quota');
      assert.match(r.json.error.message, /budget/);
    }
    const spent = g.usage.filter((e) => e.keyId === id).reduce((a, e) => a + e.costUsd, 0);
    assert.ok(spent > 0 && spent <= budget, `recorded spend ${spent} within the budget ${budget}`);
    const state = await g.t.app.limiter.store.budget(`{${(await g.t.app.store.orgs.ensureDefault()).id}}:budget:k:${id}:month:${new Date().toISOString().slice(0, 8)}01`);
    assert.equal(state.reserved, 0, 'every reservation was settled');
    assert.equal(state.spent, Math.round(spent * 1e9));
  });

  test('a failed request gives its reservation back', async () => {
    const { key } = await keyWith(g.t, { budgetUsd: 0.000006, budgetPeriod: 'day' }); // room for one worst case
    g.fakes.openai.fault({ type: 'status', status: 500 });
    g.fakes.openai.fault({ type: 'status', status: 500 });
    g.fakes.openai.fault({ type: 'status', status: 500 });
    assert.equal((await g.t.call('/api/v1/chat/completions', { key, body: hi({ max_tokens: 5 }) })).status, 502);
    for (let i = 0; i < 3; i++) {
      const r = await g.t.call('/api/v1/chat/completions', { key, body: hi({ max_tokens: 5 }) });
      if (i === 0) assert.equal(r.status, 200, 'the failed request spent nothing and reserved nothing');
      else assert.equal(r.status, 429, 'one real answer used the budget up');
    }
  });
});
