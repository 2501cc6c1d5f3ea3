import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openaiAdapter } from '../../../src/providers/openai/index.js';
import { OpenAIStreamTranslator } from '../../../src/providers/openai/stream.js';
import type { ChatCompletionCreateParams, TranslateContext } from '../../../src/providers/types.js';
import { SseDecoder } from '../../../src/gateway/sse.js';
import { assemble, translateStream } from '../../support/streams.js';
import { startFakeOpenAI } from '../../fakes/openai.js';
import { FAKE_TOOL_ARGS } from '../../fakes/openai-wire.js';

const fixture = (p: string): Buffer => readFileSync(new URL(`../../fixtures/openai/${p}`, import.meta.url));
const fixtureJson = (p: string): unknown => JSON.parse(fixture(p).toString('utf8'));
const ctx: TranslateContext = { requestedModel: 'openai/gpt-4o', upstreamModel: 'gpt-4o', requestId: 'req_123', created: 1_700_000_000 };
const account = { provider: 'openai' as const, apiKey: 'sk-test' };
const chatReq = (extra: Partial<ChatCompletionCreateParams> = {}): ChatCompletionCreateParams =>
  ({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'Hi' }], ...extra }) as ChatCompletionCreateParams;

test('chat request: client body with the upstream model, at {base}/chat/completions', () => {
  const call = openaiAdapter.chat.request(chatReq({ temperature: 0.2, tools: [{ type: 'function', function: { name: 'f' } }] }), account, ctx);
  assert.equal(call.method, 'POST');
  assert.equal(call.url, 'https://api.openai.com/v1/chat/completions');
  assert.equal(call.headers['content-type'], 'application/json');
  const body = JSON.parse(call.body!);
  assert.equal(body.model, 'gpt-4o');
  assert.equal(body.temperature, 0.2);
  assert.equal(body.tools[0].function.name, 'f');
  assert.equal(body.stream_options, undefined);
});

test('chat request: streaming always asks for usage, keeping other stream_options', () => {
  const body = JSON.parse(openaiAdapter.chat.request(chatReq({ stream: true, stream_options: { include_obfuscation: false } } as Partial<ChatCompletionCreateParams>), account, ctx).body!);
  assert.deepEqual(body.stream_options, { include_obfuscation: false, include_usage: true });
  const body2 = JSON.parse(openaiAdapter.chat.request(chatReq({ stream: true, stream_options: { include_usage: false } }), account, ctx).body!);
  assert.equal(body2.stream_options.include_usage, true);
});

test('base URL: account override (with trailing slash) for OpenAI-compatible servers', () => {
  const call = openaiAdapter.chat.request(chatReq(), { provider: 'openai', baseUrl: 'http://localhost:8000/v1/' }, ctx);
  assert.equal(call.url, 'http://localhost:8000/v1/chat/completions');
  assert.deepEqual(openaiAdapter.authHeaders({ provider: 'openai', apiKey: 'sk-x' }), { authorization: 'Bearer sk-x' });
  assert.deepEqual(openaiAdapter.authHeaders({ provider: 'openai' }), {});
  const probe = openaiAdapter.probe({ provider: 'openai', apiKey: 'sk-x' });
  assert.equal(probe.method, 'GET');
  assert.equal(probe.url, 'https://api.openai.com/v1/models');
  assert.equal(probe.headers.authorization, 'Bearer sk-x');
});

test('chat response: passed through, usage normalised (cached and reasoning tokens)', () => {
  const r = openaiAdapter.chat.response(fixtureJson('chat-completion.json'), ctx);
  assert.equal(r.body.choices[0]!.message.content, 'The image shows a wooden boardwalk.');
  assert.deepEqual(r.usage, { promptTokens: 1117, completionTokens: 46, cachedTokens: 1024, cacheWriteTokens: 0, reasoningTokens: 12 });
  assert.throws(() => openaiAdapter.chat.response({ object: 'list' }, ctx), /not a chat completion/);
});

test('stream: data forwarded unchanged, one usage-only chunk, [DONE] swallowed', () => {
  const t = openaiAdapter.chat.stream(ctx);
  const bytes = fixture('chat-stream.sse');
  const out = translateStream(t, bytes, 'sse');
  const upstream = new SseDecoder().push(bytes).map((e) => e.data);
  assert.deepEqual(out.map((o) => (o.kind === 'chunk' ? o.data : 'error')), upstream.slice(0, -1));
  assert.deepEqual(out.map((o) => o.kind === 'chunk' && o.usageOnly === true), [false, false, false, false, false, true]);
  const a = assemble(out);
  assert.equal(a.content, 'Hello 世界 🌍!');
  assert.equal(a.finishReason, 'stop');
  assert.equal(a.usageChunks, 1);
  assert.equal(t.finishReason, 'stop');
  assert.equal(t.started, true);
  assert.deepEqual(t.usage, { promptTokens: 12, completionTokens: 5, cachedTokens: 4, cacheWriteTokens: 0, reasoningTokens: 2 });
});

test('stream: only chunks that can carry usage or a finish_reason are parsed', () => {
  const t = openaiAdapter.chat.stream(ctx);
  const events = new SseDecoder().push(fixture('chat-stream.sse'));
  const parse = JSON.parse;
  let parsed = 0;
  JSON.parse = ((text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown) => { parsed++; return parse(text, reviver); }) as typeof JSON.parse;
  try {
    for (const e of events) t.push(e);
  } finally {
    JSON.parse = parse;
  }
  // 7 events, every chunk has "usage":null and "finish_reason":null: only the finish chunk and
  // the usage chunk need parsing
  assert.equal(parsed, 2);
});

test('stream: two tool calls keep their own indexes, ids and arguments', () => {
  const t = openaiAdapter.chat.stream(ctx);
  const a = assemble(translateStream(t, fixture('chat-stream-tools.sse'), 'sse'));
  assert.deepEqual(a.toolCalls, [
    { index: 0, id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA', type: 'function', name: 'get_weather', arguments: '{"location": "Paris"}' },
    { index: 1, id: 'call_ABaVmjmj9SOyJAiIWm6xwg7a', type: 'function', name: 'get_time', arguments: '{"timezone": "Europe/Paris"}' },
  ]);
  assert.equal(a.finishReason, 'tool_calls');
  assert.equal(t.finishReason, 'tool_calls');
  assert.equal(t.started, true);
});

test('stream: started stays false until content arrives', () => {
  const t = new OpenAIStreamTranslator('openai');
  t.push({ data: '{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}' });
  assert.equal(t.started, false);
  t.push({ data: '{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}' });
  assert.equal(t.started, true);
});

test('stream: usage on a chunk with choices (compatible servers) is moved to a usage-only chunk at the end', () => {
  const t = new OpenAIStreamTranslator('openai');
  const out = [
    ...t.push({ data: '{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}' }),
    ...t.push({ data: '{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"length"}], "usage": {"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}' }),
    ...t.push({ data: '[DONE]' }),
    ...t.end(),
  ];
  const a = assemble(out);
  assert.equal(a.finishReason, 'length');
  assert.equal(a.usageChunks, 1);
  assert.equal(a.usage.prompt_tokens, 3);
  const last = out.at(-1)!;
  assert.equal(last.kind === 'chunk' && last.usageOnly, true);
  assert.deepEqual(t.usage, { promptTokens: 3, completionTokens: 1, cachedTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
});

test('stream: an error event mid-stream becomes kind error', () => {
  const out = translateStream(openaiAdapter.chat.stream(ctx), fixture('stream-error.sse'), 'sse');
  const errors = out.filter((o) => o.kind === 'error');
  assert.equal(errors.length, 1);
  const e = errors[0]!;
  assert.ok(e.kind === 'error' && e.error.code === 'upstream_error' && e.error.message.includes('The server had an error'));
  assert.equal(out.filter((o) => o.kind === 'chunk').length, 2);
});

test('stream: a clean close without [DONE] or finish_reason is reported as an error', () => {
  const t = openaiAdapter.chat.stream(ctx);
  t.push({ data: '{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}' });
  const end = t.end();
  assert.equal(end.length, 1);
  assert.equal(end[0]!.kind, 'error');
});

test('errors: 401 -> 502 upstream_error without the key fragment', () => {
  const e = openaiAdapter.error(401, fixture('error-401.json').toString(), {});
  assert.equal(e.status, 502);
  assert.equal(e.error.code, 'upstream_error');
  assert.equal(e.error.type, 'api_error');
  assert.ok(!e.error.message.includes('abcd'), e.error.message);
  assert.ok(!e.error.message.includes('sk-proj'), e.error.message);
});

test('errors: 429 rate limit keeps retry-after; retry-after-ms wins', () => {
  const e = openaiAdapter.error(429, fixture('error-429-rate.json').toString(), { 'retry-after': '20' });
  assert.equal(e.status, 429);
  assert.equal(e.error.code, 'rate_limit_exceeded');
  assert.equal(e.retryAfter, 20);
  assert.equal(openaiAdapter.error(429, fixture('error-429-rate.json').toString(), { 'retry-after': '20', 'retry-after-ms': '1500' }).retryAfter, 2);
});

test('errors: 429 insufficient_quota -> insufficient_quota', () => {
  const e = openaiAdapter.error(429, fixture('error-429-quota.json').toString(), {});
  assert.equal(e.status, 429);
  assert.equal(e.error.code, 'insufficient_quota');
  assert.equal(e.error.type, 'insufficient_quota');
});

test('errors: 500 -> 502; 400 keeps param; 404 -> model_not_found; non-JSON body', () => {
  const e500 = openaiAdapter.error(500, fixture('error-500.json').toString(), {});
  assert.equal(e500.status, 502);
  assert.equal(e500.error.code, 'upstream_error');
  assert.ok(e500.error.message.includes('The server had an error'));
  const e400 = openaiAdapter.error(400, fixture('error-400-param.json').toString(), {});
  assert.equal(e400.status, 400);
  assert.equal(e400.error.param, 'temperature');
  assert.equal(openaiAdapter.error(404, '{"error":{"message":"The model `x` does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}', {}).error.code, 'model_not_found');
  const html = openaiAdapter.error(503, '<html>Service Unavailable</html>', {});
  assert.equal(html.status, 502);
  assert.ok(html.error.message.includes('Service Unavailable'));
});

test('embeddings and transcription: URL, model, usage', () => {
  const emb = openaiAdapter.embeddings!;
  const call = emb.request({ model: 'text-embedding-3-small', input: ['a', 'b'] }, account, ctx);
  assert.equal(call.url, 'https://api.openai.com/v1/embeddings');
  assert.equal(JSON.parse(call.body!).model, 'gpt-4o');
  const r = emb.response(fixtureJson('embeddings.json'), ctx);
  assert.equal(r.body.data.length, 1);
  assert.equal(r.usage.promptTokens, 8);
  const tr = openaiAdapter.transcription!.request(account, { ...ctx, upstreamModel: 'whisper-1' });
  assert.equal(tr.url, 'https://api.openai.com/v1/audio/transcriptions');
  assert.equal(tr.formModel, 'whisper-1');
});

// --- against the fake, over HTTP -------------------------------------------------------------

let fake: Awaited<ReturnType<typeof startFakeOpenAI>>;
before(async () => { fake = await startFakeOpenAI(); });
after(async () => { await fake.close(); });

async function send(call: { method: string; url: string; headers: Record<string, string>; body?: string }, key = 'test-key'): Promise<Response> {
  return fetch(call.url, { method: call.method, headers: { ...call.headers, ...(openaiAdapter.authHeaders({ provider: 'openai', apiKey: key }) as Record<string, string>) }, body: call.body ?? null });
}

test('fake: streamed tool calls through the adapter, framed as SSE ending with [DONE]', async () => {
  const acct = { provider: 'openai' as const, baseUrl: fake.baseUrl, apiKey: 'test-key' };
  const req = chatReq({ stream: true, messages: [{ role: 'user', content: 'weather? [tools]' }] });
  const res = await send(openaiAdapter.chat.request(req, acct, { ...ctx, upstreamModel: 'gpt-4o-mini' }));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.ok(bytes.toString().endsWith('data: [DONE]\n\n'));
  assert.equal(fake.requests.at(-1)!.json.stream_options.include_usage, true);
  const t = openaiAdapter.chat.stream(ctx);
  const a = assemble(translateStream(t, bytes, 'sse', 5));
  assert.deepEqual(a.toolCalls.map((c) => [c.index, c.name, c.arguments]), [[0, 'get_weather', FAKE_TOOL_ARGS[0]], [1, 'get_time', FAKE_TOOL_ARGS[1]]]);
  assert.equal(new Set(a.toolCalls.map((c) => c.id)).size, 2);
  assert.equal(a.finishReason, 'tool_calls');
  assert.deepEqual(t.usage, { promptTokens: 12, completionTokens: 5, cachedTokens: 4, cacheWriteTokens: 0, reasoningTokens: 0 });
});

test('fake: JSON chat, 401 bodies, models, embeddings, transcription formats', async () => {
  const acct = { provider: 'openai' as const, baseUrl: fake.baseUrl, apiKey: 'test-key' };
  const ok = await send(openaiAdapter.chat.request(chatReq({ messages: [{ role: 'user', content: '[length]' }] }), acct, ctx));
  const r = openaiAdapter.chat.response(await ok.json(), ctx);
  assert.equal(r.body.choices[0]!.finish_reason, 'length');
  assert.equal(r.usage.cachedTokens, 4);

  const bad = await send(openaiAdapter.chat.request(chatReq(), acct, ctx), 'wrong-key-123456');
  assert.equal(bad.status, 401);
  const badBody = await bad.text();
  assert.equal(JSON.parse(badBody).error.code, 'invalid_api_key');
  assert.equal(openaiAdapter.error(401, badBody, {}).status, 502);
  const none = await fetch(`${fake.baseUrl}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(none.status, 401);
  assert.equal(((await none.json()) as any).error.code, null);

  const models = await send(openaiAdapter.probe(acct));
  assert.equal(models.status, 200);
  assert.ok(((await models.json()) as any).data.some((m: { id: string }) => m.id === 'whisper-1'));

  const emb = await send(openaiAdapter.embeddings!.request({ model: 'e', input: ['a b', 'c'] }, acct, ctx));
  const er = openaiAdapter.embeddings!.response(await emb.json(), ctx);
  assert.equal(er.body.data.length, 2);
  assert.equal(er.usage.promptTokens, 3);

  const tr = openaiAdapter.transcription!.request(acct, { ...ctx, upstreamModel: 'whisper-1' });
  const form = (format: string, words = false): FormData => {
    const f = new FormData();
    f.append('file', new Blob([Buffer.from('RIFF....WAVE')], { type: 'audio/wav' }), 'a.wav');
    f.append('model', tr.formModel);
    f.append('response_format', format);
    if (words) f.append('timestamp_granularities[]', 'word');
    return f;
  };
  const post = (f: FormData): Promise<Response> => fetch(tr.url, { method: 'POST', headers: { ...tr.headers, authorization: 'Bearer test-key' }, body: f });
  assert.deepEqual(await (await post(form('json'))).json(), { text: 'Hello from openai!', usage: { type: 'duration', seconds: 2 } });
  const text = await post(form('text'));
  assert.match(text.headers.get('content-type') ?? '', /^text\/plain/);
  assert.equal(await text.text(), 'Hello from openai!\n');
  assert.match(await (await post(form('srt'))).text(), /^1\n00:00:00,000 --> /);
  assert.match(await (await post(form('vtt'))).text(), /^WEBVTT\n/);
  const verbose = (await (await post(form('verbose_json', true))).json()) as any;
  assert.equal(verbose.language, 'english');
  assert.equal(verbose.segments.length, 1);
  assert.deepEqual(verbose.words.map((w: { word: string }) => w.word), ['Hello', 'from', 'openai']);
});

test('fake: honours queued faults (status with OpenAI body, reset mid-stream)', async () => {
  const acct = { provider: 'openai' as const, baseUrl: fake.baseUrl, apiKey: 'test-key' };
  fake.fault({ type: 'status', status: 429, headers: { 'retry-after': '3' } });
  const limited = await send(openaiAdapter.chat.request(chatReq(), acct, ctx));
  assert.equal(limited.status, 429);
  const mapped = openaiAdapter.error(429, await limited.text(), { 'retry-after': limited.headers.get('retry-after') ?? undefined });
  assert.equal(mapped.error.code, 'rate_limit_exceeded');
  assert.equal(mapped.retryAfter, 3);

  fake.fault({ type: 'reset-mid-stream', afterEvents: 2 });
  // the socket dies after two events: the client sees a failed fetch or a failed body read
  await assert.rejects(async () => {
    const res = await send(openaiAdapter.chat.request(chatReq({ stream: true }), acct, ctx));
    await res.arrayBuffer();
  });
  assert.equal(fake.requests.at(-1)!.json.stream, true);
});
