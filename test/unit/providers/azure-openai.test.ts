import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { azureOpenAIAdapter } from '../../../src/providers/azure-openai/index.js';
import type { ChatCompletionCreateParams, ProviderAccount, TranslateContext } from '../../../src/providers/types.js';
import { SseDecoder } from '../../../src/gateway/sse.js';
import { assemble, translateStream } from '../../support/streams.js';
import { startFakeAzureOpenAI } from '../../fakes/azure-openai.js';

const fixture = (p: string): Buffer => readFileSync(new URL(`../../fixtures/azure-openai/${p}`, import.meta.url));
const ctx: TranslateContext = { requestedModel: 'azure-openai/gpt-4o', upstreamModel: 'my gpt-4o', requestId: 'req_1', created: 1_700_000_000 };
const account: ProviderAccount = { provider: 'azure-openai', baseUrl: 'https://contoso.openai.azure.com/', apiKey: 'azure-key' };
const chatReq = (extra: Partial<ChatCompletionCreateParams> = {}): ChatCompletionCreateParams =>
  ({ model: 'azure-openai/gpt-4o', messages: [{ role: 'user', content: 'Hi' }], ...extra }) as ChatCompletionCreateParams;

test('chat URL addresses the (URL-encoded) deployment with the default api-version', () => {
  const call = azureOpenAIAdapter.chat.request(chatReq({ stream: true }), account, ctx);
  assert.equal(call.url, 'https://contoso.openai.azure.com/openai/deployments/my%20gpt-4o/chat/completions?api-version=2024-10-21');
  assert.deepEqual(JSON.parse(call.body!).stream_options, { include_usage: true });
  assert.deepEqual(azureOpenAIAdapter.authHeaders(account), { 'api-key': 'azure-key' });
});

test('endpoint given with /openai; custom api-version; embeddings, transcription and probe URLs', () => {
  const acct: ProviderAccount = { ...account, baseUrl: 'https://contoso.openai.azure.com/openai', apiVersion: '2025-01-01-preview' };
  const q = '?api-version=2025-01-01-preview';
  assert.equal(azureOpenAIAdapter.embeddings!.request({ model: 'e', input: 'x' }, acct, { ...ctx, upstreamModel: 'emb' }).url,
    `https://contoso.openai.azure.com/openai/deployments/emb/embeddings${q}`);
  const tr = azureOpenAIAdapter.transcription!.request(acct, { ...ctx, upstreamModel: 'whisper' });
  assert.equal(tr.url, `https://contoso.openai.azure.com/openai/deployments/whisper/audio/transcriptions${q}`);
  const probe = azureOpenAIAdapter.probe(acct);
  assert.equal(probe.url, `https://contoso.openai.azure.com/openai/models${q}`);
  assert.equal(probe.headers['api-key'], 'azure-key');
});

test('old api-versions get no stream_options (Azure rejects it before 2024-09-01)', () => {
  const call = azureOpenAIAdapter.chat.request(chatReq({ stream: true }), { ...account, apiVersion: '2024-06-01' }, ctx);
  assert.equal(JSON.parse(call.body!).stream_options, undefined);
});

test('v1 API: /openai/v1 paths with the deployment as model', () => {
  const acct: ProviderAccount = { ...account, apiVersion: 'v1' };
  const call = azureOpenAIAdapter.chat.request(chatReq({ stream: true }), acct, ctx);
  assert.equal(call.url, 'https://contoso.openai.azure.com/openai/v1/chat/completions');
  const body = JSON.parse(call.body!);
  assert.equal(body.model, 'my gpt-4o');
  assert.equal(body.stream_options.include_usage, true);
  assert.equal(azureOpenAIAdapter.probe(acct).url, 'https://contoso.openai.azure.com/openai/v1/models');
});

test('an account without an endpoint is a configuration error', () => {
  assert.throws(() => azureOpenAIAdapter.chat.request(chatReq(), { provider: 'azure-openai', apiKey: 'k' }, ctx), /endpoint/);
});

test('response: content filter annotations pass through; usage normalised', () => {
  const r = azureOpenAIAdapter.chat.response(JSON.parse(fixture('chat-completion.json').toString()), ctx);
  assert.equal(r.body.choices[0]!.message.content, 'Bonjour !');
  assert.deepEqual(r.usage, { promptTokens: 1044, completionTokens: 3, cachedTokens: 1024, cacheWriteTokens: 0, reasoningTokens: 0 });
});

test('stream: the leading prompt_filter_results chunk (choices: []) is dropped, the rest forwarded', () => {
  const bytes = fixture('chat-stream.sse');
  const upstream = new SseDecoder().push(bytes).map((e) => e.data);
  assert.ok(upstream[0]!.includes('prompt_filter_results'));
  const t = azureOpenAIAdapter.chat.stream(ctx);
  const out = translateStream(t, bytes, 'sse');
  assert.deepEqual(out.map((o) => (o.kind === 'chunk' ? o.data : '')), upstream.slice(1, -1));
  const a = assemble(out);
  assert.equal(a.content, 'Bonjour !');
  assert.equal(a.usageChunks, 1);
  assert.equal(t.finishReason, 'stop');
  assert.deepEqual(t.usage, { promptTokens: 20, completionTokens: 3, cachedTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
});

test('errors: 401 -> 502; 429 with retry-after; content_filter 400 keeps param and says so; 404 deployment; 500', () => {
  const e401 = azureOpenAIAdapter.error(401, fixture('error-401.json').toString(), {});
  assert.equal(e401.status, 502);
  assert.equal(e401.error.code, 'upstream_error');
  const e429 = azureOpenAIAdapter.error(429, fixture('error-429.json').toString(), { 'retry-after': '6', 'x-ratelimit-remaining-tokens': '0' });
  assert.equal(e429.status, 429);
  assert.equal(e429.error.code, 'rate_limit_exceeded');
  assert.equal(e429.retryAfter, 6);
  const cf = azureOpenAIAdapter.error(400, fixture('error-content-filter.json').toString(), {});
  assert.equal(cf.status, 400);
  assert.equal(cf.error.code, 'invalid_request');
  assert.equal(cf.error.param, 'prompt');
  assert.match(cf.error.message, /^azure-openai: content_filter: The response was filtered/);
  const e404 = azureOpenAIAdapter.error(404, fixture('error-404-deployment.json').toString(), {});
  assert.equal(e404.status, 404);
  assert.equal(e404.error.code, 'model_not_found');
  const e500 = azureOpenAIAdapter.error(500, fixture('error-500.json').toString(), {});
  assert.equal(e500.status, 502);
  assert.match(e500.error.message, /temporarily unable/);
});

// --- against the fake, over HTTP -------------------------------------------------------------

let fake: Awaited<ReturnType<typeof startFakeAzureOpenAI>>;
before(async () => { fake = await startFakeAzureOpenAI(); });
after(async () => { await fake.close(); });

const send = (call: { method: string; url: string; headers: Record<string, string>; body?: string }, acct: ProviderAccount): Promise<Response> =>
  fetch(call.url, { method: call.method, headers: { ...call.headers, ...(azureOpenAIAdapter.authHeaders(acct) as Record<string, string>) }, body: call.body ?? null });

test('fake: streamed tool calls with the deployment in the URL, SSE ending with [DONE]', async () => {
  const acct: ProviderAccount = { provider: 'azure-openai', baseUrl: fake.baseUrl, apiKey: 'test-key' };
  const c = { ...ctx, upstreamModel: 'gpt-4o-mini' };
  const res = await send(azureOpenAIAdapter.chat.request(chatReq({ stream: true, messages: [{ role: 'user', content: '[tools]' }] }), acct, c), acct);
  assert.equal(res.status, 200);
  const bytes = Buffer.from(await res.arrayBuffer());
  assert.ok(bytes.toString().endsWith('data: [DONE]\n\n'));
  assert.ok(bytes.toString().startsWith('data: {"choices":[],'));
  assert.equal(fake.requests.at(-1)!.path, '/openai/deployments/gpt-4o-mini/chat/completions');
  const t = azureOpenAIAdapter.chat.stream(c);
  const a = assemble(translateStream(t, bytes, 'sse', 3));
  assert.deepEqual(a.toolCalls.map((x) => [x.index, x.name]), [[0, 'get_weather'], [1, 'get_time']]);
  assert.equal(a.finishReason, 'tool_calls');
  assert.equal(t.usage?.promptTokens, 12);
});

test('fake: Azure auth, api-version and content-filter answers', async () => {
  const acct: ProviderAccount = { provider: 'azure-openai', baseUrl: fake.baseUrl, apiKey: 'test-key' };
  const wrong = await send(azureOpenAIAdapter.chat.request(chatReq(), acct, ctx), { ...acct, apiKey: 'nope' });
  assert.equal(wrong.status, 401);
  assert.equal(((await wrong.json()) as any).error.code, '401');
  const noVersion = await fetch(`${fake.baseUrl}/openai/deployments/x/chat/completions`, { method: 'POST', headers: { 'api-key': 'test-key', 'content-type': 'application/json' }, body: '{"messages":[]}' });
  assert.equal(noVersion.status, 404);
  const filtered = await send(azureOpenAIAdapter.chat.request(chatReq({ messages: [{ role: 'user', content: '[content_filter]' }] }), acct, ctx), acct);
  assert.equal(filtered.status, 400);
  assert.equal(azureOpenAIAdapter.error(400, await filtered.text(), {}).error.param, 'prompt');
  const ok = await send(azureOpenAIAdapter.chat.request(chatReq(), acct, ctx), acct);
  const r = azureOpenAIAdapter.chat.response(await ok.json(), ctx);
  assert.equal(r.body.choices[0]!.message.content, 'Hello from azure-openai!');
  const probe = await send(azureOpenAIAdapter.probe(acct), acct);
  assert.equal(probe.status, 200);
  const v1 = await send(azureOpenAIAdapter.chat.request(chatReq({ stream: true }), { ...acct, apiVersion: 'v1' }, ctx), acct);
  assert.equal(v1.status, 200);
  assert.ok((await v1.text()).endsWith('data: [DONE]\n\n'));
});
