import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ollamaAdapter } from '../../../src/providers/ollama/index.js';
import type { ChatCompletionCreateParams, ProviderAccount, TranslateContext } from '../../../src/providers/types.js';
import { ApiError } from '../../../src/errors.js';
import { assemble, translateStream } from '../../support/streams.js';
import { startFakeOllama } from '../../fakes/ollama.js';

const fixture = (p: string): Buffer => readFileSync(new URL(`../../fixtures/ollama/${p}`, import.meta.url));
const fixtureJson = (p: string): unknown => JSON.parse(fixture(p).toString('utf8'));
const ctx: TranslateContext = { requestedModel: 'ollama/llama3.2', upstreamModel: 'llama3.2', requestId: 'req-42', created: 1_700_000_000 };
const account: ProviderAccount = { provider: 'ollama' };
const body = (req: Partial<ChatCompletionCreateParams>, acct = account): any =>
  JSON.parse(ollamaAdapter.chat.request({ model: 'ollama/llama3.2', messages: [], ...req } as ChatCompletionCreateParams, acct, ctx).body!);

test('request: native /api/chat, stream always explicit, no auth by default', () => {
  const call = ollamaAdapter.chat.request({ model: 'm', messages: [{ role: 'user', content: 'Hi' }] }, account, ctx);
  assert.equal(call.url, 'http://127.0.0.1:11434/api/chat');
  const b = JSON.parse(call.body!);
  assert.equal(b.model, 'llama3.2');
  assert.equal(b.stream, false);
  assert.equal(body({ stream: true }).stream, true);
  assert.equal(ollamaAdapter.chat.streamFormat, 'ndjson');
  assert.deepEqual(ollamaAdapter.authHeaders(account), {});
  assert.deepEqual(ollamaAdapter.authHeaders({ provider: 'ollama', apiKey: 'k' }), { authorization: 'Bearer k' });
  assert.equal(ollamaAdapter.probe({ provider: 'ollama', baseUrl: 'http://gpu:11434/' }).url, 'http://gpu:11434/api/tags');
});

test('request: messages, images from data: URLs, tool calls (object arguments) and tool results by name', () => {
  const b = body({
    messages: [
      { role: 'developer', content: 'Be brief.' },
      { role: 'system', content: [{ type: 'text', text: 'Use tools.' }] },
      { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] },
      { role: 'assistant', content: null, tool_calls: [
        { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } },
        { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '' } },
      ] },
      { role: 'tool', tool_call_id: 'call_b', content: '12:00' },
      { role: 'tool', tool_call_id: 'call_a', content: [{ type: 'text', text: 'sunny' }] },
    ],
  });
  assert.deepEqual(b.messages, [
    { role: 'system', content: 'Be brief.' },
    { role: 'system', content: 'Use tools.' },
    { role: 'user', content: 'What is this?', images: ['iVBORw0KGgo='] },
    { role: 'assistant', content: '', tool_calls: [
      { function: { name: 'get_weather', arguments: { location: 'Paris' } } },
      { function: { name: 'get_time', arguments: {} } },
    ] },
    { role: 'tool', content: '12:00', tool_call_id: 'call_b', tool_name: 'get_time' },
    { role: 'tool', content: 'sunny', tool_call_id: 'call_a', tool_name: 'get_weather' },
  ]);
});

test('request: tools, options, format', () => {
  const tools = [{ type: 'function' as const, function: { name: 'get_weather', description: 'd', parameters: { type: 'object', properties: {} } } }];
  const b = body({ messages: [{ role: 'user', content: 'x' }], tools, temperature: 0.5, top_p: 0.9, max_tokens: 10, max_completion_tokens: 20, stop: 'END', seed: 7, response_format: { type: 'json_object' } });
  assert.deepEqual(b.tools, tools);
  assert.deepEqual(b.options, { temperature: 0.5, top_p: 0.9, num_predict: 20, stop: ['END'], seed: 7 });
  assert.equal(b.format, 'json');
  const schema = { type: 'object', properties: { age: { type: 'integer' } } };
  assert.deepEqual(body({ response_format: { type: 'json_schema', json_schema: { name: 's', schema } } }).format, schema);
  assert.equal(body({ tools, tool_choice: 'none' }).tools, undefined);
  assert.equal(body({}).options, undefined);
});

test('request: content Ollama cannot take is a 400 naming the parameter', () => {
  const err = (fn: () => unknown): ApiError => { try { fn(); } catch (e) { if (e instanceof ApiError) return e; throw e; } throw new Error('no error'); };
  const remote = err(() => body({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/cat.png' } }] }] }));
  assert.equal(remote.status, 400);
  assert.equal(remote.param, 'messages[0].content[0].image_url.url');
  const args = err(() => body({ messages: [{ role: 'assistant', content: '', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '[1]' } }] }] }));
  assert.equal(args.param, 'messages[0].tool_calls[0].function.arguments');
  assert.equal(err(() => body({ n: 2 })).param, 'n');
});

test('response: text, finish reason and usage from prompt_eval_count / eval_count', () => {
  const r = ollamaAdapter.chat.response(fixtureJson('chat-response.json'), ctx);
  assert.equal(r.body.id, 'chatcmpl-req-42');
  assert.equal(r.body.model, 'ollama/llama3.2');
  assert.equal(r.body.created, ctx.created);
  assert.equal(r.body.choices[0]!.message.content, 'Hello! How are you today?');
  assert.equal(r.body.choices[0]!.finish_reason, 'stop');
  assert.deepEqual(r.usage, { promptTokens: 26, completionTokens: 298, cachedTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
  assert.deepEqual(r.body.usage, { prompt_tokens: 26, completion_tokens: 298, total_tokens: 324 });
  // a fully cached prompt: Ollama omits prompt_eval_count
  assert.equal(ollamaAdapter.chat.response(fixtureJson('chat-response-cached-prompt.json'), ctx).usage.promptTokens, 0);
});

test('response: tool calls get stable distinct ids, JSON string arguments, finish_reason tool_calls', () => {
  const r = ollamaAdapter.chat.response(fixtureJson('chat-response-tools.json'), ctx);
  const msg = r.body.choices[0]!.message;
  assert.equal(r.body.choices[0]!.finish_reason, 'tool_calls');
  assert.equal(msg.content, null);
  assert.deepEqual(msg.tool_calls, [
    { id: 'call_req42_0', type: 'function', function: { name: 'get_current_weather', arguments: '{"format":"celsius","location":"Paris, FR"}' } },
    { id: 'call_req42_1', type: 'function', function: { name: 'get_time', arguments: '{"timezone":"Europe/Paris"}' } },
  ]);
  assert.deepEqual(ollamaAdapter.chat.response(fixtureJson('chat-response-tools.json'), ctx).body.choices[0]!.message.tool_calls, msg.tool_calls);
});

test('stream: content chunks, finish chunk, then one usage-only chunk', () => {
  const t = ollamaAdapter.chat.stream(ctx);
  const out = translateStream(t, fixture('chat-stream.ndjson'), 'ndjson');
  const a = assemble(out);
  assert.equal(a.role, 'assistant');
  assert.equal(a.content, 'The sky 空 🌤 is blue.');
  assert.equal(a.finishReason, 'stop');
  assert.equal(a.usageChunks, 1);
  const last = out.at(-1)!;
  assert.equal(last.kind === 'chunk' && last.usageOnly, true);
  assert.deepEqual(a.usage, { prompt_tokens: 122, completion_tokens: 33, total_tokens: 155 });
  assert.deepEqual(t.usage, { promptTokens: 122, completionTokens: 33, cachedTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
  for (const c of a.chunks) {
    assert.equal(c.object, 'chat.completion.chunk');
    assert.equal(c.id, 'chatcmpl-req-42');
    assert.equal(c.model, 'ollama/llama3.2');
  }
  assert.equal(t.started, true);
});

test('stream: each tool call gets its own index and id; done_reason stop becomes tool_calls', () => {
  const t = ollamaAdapter.chat.stream(ctx);
  const a = assemble(translateStream(t, fixture('chat-stream-tools.ndjson'), 'ndjson'));
  assert.deepEqual(a.toolCalls, [
    { index: 0, id: 'call_req42_0', type: 'function', name: 'get_current_weather', arguments: '{"format":"celsius","location":"Toronto"}' },
    { index: 1, id: 'call_req42_1', type: 'function', name: 'get_time', arguments: '{"timezone":"America/Toronto"}' },
  ]);
  assert.equal(a.finishReason, 'tool_calls');
  assert.equal(t.finishReason, 'tool_calls');
});

test('stream: done_reason length; an error line; a stream cut before done', () => {
  const len = ollamaAdapter.chat.stream(ctx);
  assert.equal(assemble(translateStream(len, fixture('chat-stream-length.ndjson'), 'ndjson')).finishReason, 'length');
  assert.equal(len.finishReason, 'length');

  const errOut = translateStream(ollamaAdapter.chat.stream(ctx), fixture('chat-stream-error.ndjson'), 'ndjson');
  const errors = errOut.filter((o) => o.kind === 'error');
  assert.equal(errors.length, 1);
  assert.ok(errors[0]!.kind === 'error' && errors[0]!.error.message.includes('unexpected EOF'));
  assert.equal(errors[0]!.kind === 'error' && errors[0]!.error.code, 'upstream_error');

  const cut = ollamaAdapter.chat.stream(ctx);
  cut.push({ data: '{"model":"m","message":{"role":"assistant","content":"Hi"},"done":false}' });
  const end = cut.end();
  assert.equal(end.length, 1);
  assert.equal(end[0]!.kind, 'error');
  assert.equal(cut.usage, undefined);
});

test('errors: {"error":"..."} bodies', () => {
  const e404 = ollamaAdapter.error(404, fixture('error-404.json').toString(), {});
  assert.equal(e404.status, 404);
  assert.equal(e404.error.code, 'model_not_found');
  assert.match(e404.error.message, /llama9/);
  const e401 = ollamaAdapter.error(401, '{"error":"unauthorized"}', {});
  assert.equal(e401.status, 502);
  assert.equal(e401.error.code, 'upstream_error');
  const e429 = ollamaAdapter.error(429, '{"error":"too many requests"}', { 'retry-after': '3' });
  assert.equal(e429.status, 429);
  assert.equal(e429.retryAfter, 3);
  const e500 = ollamaAdapter.error(500, '{"error":"model requires more system memory (8 GiB) than is available (4 GiB)"}', {});
  assert.equal(e500.status, 502);
  assert.match(e500.error.message, /system memory/);
});

test('embeddings through /v1/embeddings; no transcription', () => {
  const call = ollamaAdapter.embeddings!.request({ model: 'ollama/all-minilm', input: 'hi' }, account, { ...ctx, upstreamModel: 'all-minilm' });
  assert.equal(call.url, 'http://127.0.0.1:11434/v1/embeddings');
  assert.equal(JSON.parse(call.body!).model, 'all-minilm');
  assert.equal(ollamaAdapter.embeddings!.response(fixtureJson('embeddings.json'), ctx).usage.promptTokens, 8);
  assert.equal(ollamaAdapter.transcription, undefined);
});

// --- against the fake, over HTTP -------------------------------------------------------------

let fake: Awaited<ReturnType<typeof startFakeOllama>>;
before(async () => { fake = await startFakeOllama(); });
after(async () => { await fake.close(); });

const send = (call: { method: string; url: string; headers: Record<string, string>; body?: string }): Promise<Response> =>
  fetch(call.url, { method: call.method, headers: call.headers, body: call.body ?? null });

test('fake: NDJSON stream of two tool calls, translated with distinct indexes', async () => {
  const acct: ProviderAccount = { provider: 'ollama', baseUrl: fake.baseUrl };
  const tools = [{ type: 'function' as const, function: { name: 'lookup' } }, { type: 'function' as const, function: { name: 'clock' } }];
  const res = await send(ollamaAdapter.chat.request({ model: 'x', stream: true, tools, messages: [{ role: 'user', content: '[tools]' }] }, acct, ctx));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
  const bytes = Buffer.from(await res.arrayBuffer());
  const lines = bytes.toString().trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.at(-1).done, true);
  const t = ollamaAdapter.chat.stream(ctx);
  const a = assemble(translateStream(t, bytes, 'ndjson', 11));
  assert.deepEqual(a.toolCalls.map((c) => [c.index, c.name, JSON.parse(c.arguments)]), [[0, 'lookup', { location: 'Paris' }], [1, 'clock', { timezone: 'Europe/Paris' }]]);
  assert.equal(a.finishReason, 'tool_calls');
  assert.deepEqual(t.usage, { promptTokens: 12, completionTokens: 5, cachedTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
});

test('fake: JSON answer, unknown model, key when required, tags, embeddings', async () => {
  const acct: ProviderAccount = { provider: 'ollama', baseUrl: fake.baseUrl };
  const ok = await send(ollamaAdapter.chat.request({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }, acct, ctx));
  assert.equal(ollamaAdapter.chat.response(await ok.json(), ctx).body.choices[0]!.message.content, 'Hello from ollama!');
  const missing = await send(ollamaAdapter.chat.request({ model: 'x', messages: [] }, acct, { ...ctx, upstreamModel: 'missing-model' }));
  assert.equal(missing.status, 404);
  assert.equal(ollamaAdapter.error(404, await missing.text(), {}).error.code, 'model_not_found');
  const tags = await send(ollamaAdapter.probe(acct));
  assert.ok(((await tags.json()) as any).models.length > 0);
  const emb = await send(ollamaAdapter.embeddings!.request({ model: 'e', input: ['a', 'b'] }, acct, ctx));
  assert.equal(ollamaAdapter.embeddings!.response(await emb.json(), ctx).body.data.length, 2);

  const locked = await startFakeOllama({ apiKey: 'test-key' });
  try {
    const lacct: ProviderAccount = { provider: 'ollama', baseUrl: locked.baseUrl, apiKey: 'test-key' };
    const call = ollamaAdapter.probe(lacct);
    assert.equal((await send(call)).status, 200);
    const denied = await fetch(call.url);
    assert.equal(denied.status, 401);
    assert.deepEqual(await denied.json(), { error: 'unauthorized' });
  } finally {
    await locked.close();
  }
});
