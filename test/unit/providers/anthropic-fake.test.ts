/**
 * The fake Anthropic server over real HTTP (fetch): its SSE framing, its validation, and the
 * anthropic adapter's calls and translators end to end against it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChatCompletionCreateParams } from 'openai/resources/chat/completions';
import { anthropicAdapter } from '../../../src/providers/anthropic/index.js';
import type { ProviderAccount, UpstreamCall } from '../../../src/providers/types.js';
import { startFakeAnthropic } from '../../fakes/anthropic.js';
import { chunksOf, ctx, fixtureJson, run, sseEvents } from './anthropic-support.js';

let fake: Awaited<ReturnType<typeof startFakeAnthropic>>;
let account: ProviderAccount;
before(async () => {
  fake = await startFakeAnthropic();
  account = { provider: 'anthropic', baseUrl: fake.baseUrl, apiKey: 'test-key' };
});
after(() => fake.close());

async function send(call: UpstreamCall, acct: ProviderAccount = account): Promise<Response> {
  const headers = { ...call.headers, ...(await anthropicAdapter.authHeaders(acct)) };
  return fetch(call.url, { method: call.method, headers, ...(call.body !== undefined ? { body: call.body } : {}) });
}

const chat = (text: string, extra: Partial<ChatCompletionCreateParams> = {}): ChatCompletionCreateParams => ({
  model: 'anthropic/claude-sonnet-4-5',
  messages: [{ role: 'user', content: text }],
  ...extra,
} as ChatCompletionCreateParams);

const tools = ['lookup_city', 'local_time'].map((name) => ({ type: 'function' as const, function: { name, parameters: { type: 'object', properties: {} } } }));

async function post(body: unknown, headers: Record<string, string> = { 'x-api-key': 'test-key', 'anthropic-version': '2023-06-01' }): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${fake.baseUrl}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

test('fake: baseUrl is a bare host (the origin, as ANTHROPIC_BASE_URL)', () => {
  assert.match(fake.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
});

test('fake: stream uses the documented framing (event + data + blank line, ping, fragmented partial_json)', async () => {
  const res = await send(anthropicAdapter.chat.request(chat('Weather and time? [tools]', { stream: true, tools }), account, ctx));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const raw = await res.text();
  assert.match(raw, /^(event: [a-z_]+\ndata: \{.*\}\n\n)+$/, 'every frame is `event: x\\ndata: {...}\\n\\n`');
  const events = sseEvents(raw);
  for (const e of events) assert.equal((JSON.parse(e.data) as { type: string }).type, e.event, 'event name repeats data.type');
  const names = events.map((e) => e.event);
  assert.equal(names[0], 'message_start');
  assert.equal(names[names.length - 1], 'message_stop');
  assert.ok(names.includes('ping'));
  const fragments = events.filter((e) => e.data.includes('input_json_delta'));
  assert.ok(fragments.length >= 6, `partial_json arrives in several fragments (${fragments.length})`);

  const t = anthropicAdapter.chat.stream(ctx);
  const calls = chunksOf(run(t, events)).flatMap((c) => c.chunk.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
  assert.deepEqual(calls.filter((c) => c.id).map((c) => [c.index, c.function?.name]), [[0, 'lookup_city'], [1, 'local_time']]);
  for (const i of [0, 1]) JSON.parse(calls.filter((c) => c.index === i).map((c) => c.function?.arguments ?? '').join(''));
  assert.equal(t.finishReason, 'tool_calls');
});

test('fake: a translated multi-turn conversation (merged turns, tool results) is accepted', async () => {
  const req = { ...(fixtureJson('chat-request.openai.json') as ChatCompletionCreateParams), stream: false };
  const res = await send(anthropicAdapter.chat.request(req, account, ctx));
  const json: unknown = await res.json();
  assert.equal(res.status, 200, JSON.stringify(json));
  const { body } = anthropicAdapter.chat.response(json, ctx);
  assert.equal(body.choices[0]?.message.content, 'Hello from anthropic!');
  assert.equal(fake.requests.at(-1)?.headers['x-api-key'], 'test-key');
  assert.equal(fake.requests.at(-1)?.headers['anthropic-version'], '2023-06-01');
});

test('fake: [cache] usage is normalised the same way streamed and not streamed', async () => {
  const plain = await send(anthropicAdapter.chat.request(chat('[cache] again'), account, ctx));
  const { usage } = anthropicAdapter.chat.response(await plain.json(), ctx);
  assert.deepEqual(usage, { promptTokens: 14 + 1800 + 200, completionTokens: 6, cachedTokens: 1800, cacheWriteTokens: 200, reasoningTokens: 0 });
  const streamed = await send(anthropicAdapter.chat.request(chat('[cache] again', { stream: true }), account, ctx));
  const t = anthropicAdapter.chat.stream(ctx);
  run(t, sseEvents(await streamed.text()));
  assert.deepEqual(t.usage, usage);
});

test('fake: [length] -> finish_reason length', async () => {
  const res = await send(anthropicAdapter.chat.request(chat('Tell me everything [length]'), account, ctx));
  assert.equal(anthropicAdapter.chat.response(await res.json(), ctx).body.choices[0]?.finish_reason, 'length');
});

test('fake: validates like the real API (max_tokens, system role, alternation, first role)', async () => {
  const ok = { model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };
  assert.equal((await post(ok)).status, 200);
  const cases: Array<[unknown, RegExp]> = [
    [{ ...ok, max_tokens: undefined }, /^max_tokens: Field required$/],
    [{ ...ok, messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'hi' }] }, /Unexpected role "system"/],
    [{ ...ok, messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }] }, /roles must alternate/],
    [{ ...ok, messages: [{ role: 'assistant', content: 'a' }, { role: 'user', content: 'b' }] }, /first message must use the "user" role/],
    [{ ...ok, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'nope', content: 'x' }] }] }, /unexpected `tool_use_id`/],
  ];
  for (const [body, message] of cases) {
    const { status, json } = await post(body);
    assert.equal(status, 400);
    const err = (json as { type: string; error: { type: string; message: string } });
    assert.equal(err.type, 'error');
    assert.equal(err.error.type, 'invalid_request_error');
    assert.match(err.error.message, message);
  }
});

test('fake: wrong key -> Anthropic 401 body, mapped to 502 (provider credentials failed)', async () => {
  const res = await send(anthropicAdapter.chat.request(chat('hi'), account, ctx), { ...account, apiKey: 'wrong' });
  assert.equal(res.status, 401);
  const text = await res.text();
  assert.deepEqual(JSON.parse(text), { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
  const mapped = anthropicAdapter.error(res.status, text, {});
  assert.deepEqual([mapped.status, mapped.error.code], [502, 'upstream_error']);
  const noVersion = await post({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }] }, { 'x-api-key': 'test-key' });
  assert.equal(noVersion.status, 400);
});

test('fake: injected 529 and 429 faults map to upstream_error and rate_limit_exceeded + retry-after', async () => {
  fake.fault({ type: 'status', status: 529 });
  const overloaded = await send(anthropicAdapter.chat.request(chat('hi'), account, ctx));
  assert.equal(overloaded.status, 529);
  const e529 = anthropicAdapter.error(529, await overloaded.text(), {});
  assert.deepEqual([e529.status, e529.error.code], [502, 'upstream_error']);

  fake.fault({ type: 'status', status: 429, headers: { 'retry-after': '3' } });
  const limited = await send(anthropicAdapter.chat.request(chat('hi'), account, ctx));
  const e429 = anthropicAdapter.error(429, await limited.text(), { 'retry-after': limited.headers.get('retry-after') ?? undefined });
  assert.deepEqual([e429.status, e429.error.code, e429.retryAfter], [429, 'rate_limit_exceeded', 3]);
});

test('fake: [overloaded] streams an error event after the first text, translated to an error output', async () => {
  const res = await send(anthropicAdapter.chat.request(chat('[overloaded]', { stream: true }), account, ctx));
  assert.equal(res.status, 200);
  const outputs = run(anthropicAdapter.chat.stream(ctx), sseEvents(await res.text()));
  const last = outputs.at(-1);
  assert.equal(last?.kind, 'error');
  assert.equal(last?.kind === 'error' ? last.error.code : '', 'upstream_error');
  assert.ok(outputs.some((o) => o.kind === 'chunk' && o.data.includes('Hello')));
});

test('fake: probe call is authenticated and answers 200', async () => {
  const res = await send(anthropicAdapter.probe(account));
  assert.equal(res.status, 200);
  const body = (await res.json()) as { data: unknown[] };
  assert.ok(Array.isArray(body.data) && body.data.length > 0);
  assert.equal((await send(anthropicAdapter.probe(account), { ...account, apiKey: 'bad' })).status, 401);
});
