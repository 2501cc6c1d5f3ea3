/**
 * The gateway end to end: the official OpenAI SDK -> Backbone -> a local fake of each provider
 * speaking its documented wire format. Chat (plain, streamed, tools, length), models, embeddings,
 * SDK error classes, usage capture, fallbacks and SSE headers.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { collect, startGateway, type GatewayFixture } from '../support/gateway.js';
import { PERMISSIONS } from '../../src/keys/permissions.js';

const PROVIDERS = [
  { provider: 'openai', model: 'gpt-4o-mini', fake: 'openai' },
  { provider: 'azure-openai', model: 'azure-gpt-4o', fake: 'azure' },
  { provider: 'anthropic', model: 'claude-sonnet-4-5', fake: 'anthropic' },
  { provider: 'vertex-ai', model: 'gemini-2.5-flash', fake: 'gemini' },
  { provider: 'ollama', model: 'llama3.2', fake: 'ollama' },
] as const;

const TOOLS: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather for a place', parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'], additionalProperties: false } } },
  { type: 'function', function: { name: 'get_time', description: 'Time in a zone', parameters: { type: 'object', properties: { timezone: { type: 'string' } }, required: ['timezone'], additionalProperties: false } } },
];

describe('gateway through the OpenAI SDK', () => {
  let g: GatewayFixture;
  before(async () => { g = await startGateway(); });
  after(async () => { await g?.close(); });

  for (const p of PROVIDERS) {
    describe(p.provider, () => {
      test('chat, not streamed', async () => {
        const before = g.usage.length;
        const r = await g.client.chat.completions.create({ model: p.model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] });
        assert.equal(r.object, 'chat.completion');
        assert.equal(r.choices[0]!.message.role, 'assistant');
        assert.equal(r.choices[0]!.message.content, `Hello from ${p.provider}!`);
        assert.equal(r.choices[0]!.finish_reason, 'stop');
        assert.ok(r.usage!.prompt_tokens > 0 && r.usage!.completion_tokens > 0);
        assert.equal(r.usage!.total_tokens, r.usage!.prompt_tokens + r.usage!.completion_tokens);
        const e = g.usage.slice(before).find((u) => u.model === p.model)!;
        assert.equal(e.provider, p.provider);
        assert.equal(e.status, 200);
        assert.equal(e.promptTokens, r.usage!.prompt_tokens);
        assert.equal(e.completionTokens, r.usage!.completion_tokens);
        assert.equal(e.byok, false);
      });

      test('chat, streamed, with and without include_usage', async () => {
        const before = g.usage.length;
        const withUsage = await collect(await g.client.chat.completions.create({ model: p.model, messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true } }));
        assert.equal(withUsage.content, `Hello from ${p.provider}!`);
        assert.equal(withUsage.finish, 'stop');
        assert.ok(withUsage.usage && withUsage.usage.prompt_tokens > 0 && withUsage.usage.completion_tokens > 0, 'usage chunk');
        const without = await collect(await g.client.chat.completions.create({ model: p.model, messages: [{ role: 'user', content: 'Hi' }], stream: true }));
        assert.equal(without.content, `Hello from ${p.provider}!`);
        assert.equal(without.usage, undefined, 'no usage chunk when the client did not ask');
        const events = g.usage.slice(before).filter((u) => u.model === p.model);
        assert.equal(events.length, 2);
        for (const e of events) {
          assert.equal(e.stream, true);
          assert.equal(e.errorCode, null);
          assert.ok(e.promptTokens > 0 && e.completionTokens > 0, 'usage is captured even when the client did not ask for it');
          assert.ok(e.ttftMs !== null && e.ttftMs >= 0);
        }
        assert.equal(events[1]!.promptTokens, withUsage.usage!.prompt_tokens);
      });

      test('two tools in one streamed answer keep distinct indexes', async () => {
        const s = await collect(await g.client.chat.completions.create({ model: p.model, messages: [{ role: 'user', content: 'Weather and time in Paris [tools]' }], tools: TOOLS, stream: true }));
        assert.equal(s.finish, 'tool_calls');
        assert.deepEqual([...s.tools.keys()].sort(), [0, 1]);
        const names = [...s.tools.values()].map((t) => t.name).sort();
        assert.deepEqual(names, ['get_time', 'get_weather']);
        for (const t of s.tools.values()) {
          assert.ok(t.id, 'each call has an id');
          assert.equal(typeof JSON.parse(t.args), 'object', 'arguments concatenate to JSON');
        }
        assert.notEqual(s.tools.get(0)!.id, s.tools.get(1)!.id);
      });

      test('tool calls, not streamed', async () => {
        const r = await g.client.chat.completions.create({ model: p.model, messages: [{ role: 'user', content: 'Weather and time [tools]' }], tools: TOOLS });
        assert.equal(r.choices[0]!.finish_reason, 'tool_calls');
        const calls = r.choices[0]!.message.tool_calls!;
        assert.equal(calls.length, 2);
        for (const c of calls) assert.equal(typeof JSON.parse((c as any).function.arguments), 'object');
      });

      test('hitting the token limit is finish_reason length', async () => {
        const r = await g.client.chat.completions.create({ model: p.model, messages: [{ role: 'user', content: 'Tell me a long story [length]' }], max_tokens: 10 });
        assert.equal(r.choices[0]!.finish_reason, 'length');
      });
    });
  }

  test('streams carry anti-buffering headers and are never compressed', async () => {
    const res = await fetch(`${g.t.url}/api/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${g.t.adminKey}`, 'content-type': 'application/json', 'accept-encoding': 'gzip, br' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    assert.equal(res.headers.get('x-accel-buffering'), 'no');
    assert.equal(res.headers.get('content-encoding'), null);
    assert.match(res.headers.get('x-request-id')!, /^[0-9a-f]{32}$/);
    const text = await res.text();
    assert.equal(text.match(/data: \[DONE\]/g)?.length, 1, 'exactly one [DONE]');
    assert.ok(text.endsWith('data: [DONE]\n\n'));
  });

  test('upstream requests ask for stream usage even when the client did not', async () => {
    const before = g.fakes.openai.requests.length;
    await collect(await g.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true }));
    const sent = g.fakes.openai.requests.slice(before).find((r) => r.path.endsWith('/chat/completions'))!;
    assert.equal(sent.json.stream_options.include_usage, true);
    assert.equal(sent.headers.authorization, 'Bearer test-key', 'the platform key goes upstream, not the Backbone key');
  });

  test('the same routes answer under /v1', async () => {
    const c = new OpenAI({ apiKey: g.t.adminKey, baseURL: `${g.t.url}/v1`, maxRetries: 0 });
    const r = await c.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hi' }] });
    assert.equal(r.choices[0]!.message.content, 'Hello from anthropic!');
  });

  describe('models', () => {
    test('GET /models lists what the organisation may call, by provider', async () => {
      const list = await g.client.models.list();
      const ids = list.data.map((m) => m.id);
      for (const id of ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'gemini-2.5-flash', 'azure-gpt-4o', 'llama3.2', 'flaky-gpt']) assert.ok(ids.includes(id), id);
      assert.equal(list.data.find((m) => m.id === 'azure-gpt-4o')!.owned_by, 'azure-openai');
      assert.equal(new Set(ids).size, ids.length);
    });

    test('a key with a model allow-list sees and calls only those models', async () => {
      const k = await g.t.createKey({ permissions: [...PERMISSIONS], allowedModels: ['claude-*', 'gpt-4o-mini'] });
      const c = new OpenAI({ apiKey: k.key, baseURL: `${g.t.url}/api/v1`, maxRetries: 0 });
      const ids = (await c.models.list()).data.map((m) => m.id).sort();
      assert.ok(ids.length >= 2 && ids.every((id) => id.startsWith('claude-') || id === 'gpt-4o-mini'), ids.join(','));
      assert.equal((await c.models.retrieve('gpt-4o-mini')).id, 'gpt-4o-mini');
      await assert.rejects(c.models.retrieve('gpt-4o'), (e: any) => e instanceof OpenAI.NotFoundError);
      await assert.rejects(c.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
        (e: any) => e instanceof OpenAI.PermissionDeniedError && e.code === 'model_not_allowed' && e.param === 'model');
      const ok = await c.chat.completions.create({ model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'x' }] });
      assert.equal(ok.choices[0]!.message.content, 'Hello from anthropic!');
    });

    test('GET /models/{id} for a routable family name, and 404 for an unknown one', async () => {
      assert.equal((await g.client.models.retrieve('gpt-5-preview')).owned_by, 'openai');
      await assert.rejects(g.client.models.retrieve('no-such-model'), (e: any) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
    });
  });

  describe('embeddings', () => {
    for (const [provider, model] of [['openai', 'text-embedding-3-small'], ['vertex-ai', 'text-embedding-004'], ['ollama', 'nomic-embed-text']] as const) {
      test(`${provider}: float and the SDK's default base64`, async () => {
        const floats = await g.client.embeddings.create({ model, input: ['hello', 'world'], encoding_format: 'float' });
        assert.equal(floats.data.length, 2);
        assert.ok(Array.isArray(floats.data[0]!.embedding) && floats.data[0]!.embedding.length > 0);
        assert.equal(typeof floats.data[0]!.embedding[0], 'number');
        const decoded = await g.client.embeddings.create({ model, input: ['hello', 'world'] }); // SDK asks for base64, decodes
        assert.equal(decoded.data.length, 2);
        const a = Array.from(decoded.data[0]!.embedding as unknown as Float32Array);
        assert.equal(a.length, floats.data[0]!.embedding.length);
        a.forEach((v, i) => assert.ok(Math.abs(v - floats.data[0]!.embedding[i]!) < 1e-5));
      });
    }

    test('a provider without embeddings answers 400 naming the model', async () => {
      await assert.rejects(g.client.embeddings.create({ model: 'claude-sonnet-4-5', input: 'x' }), (e: any) => e instanceof OpenAI.BadRequestError && e.param === 'model');
    });
  });

  describe('errors map to the SDK exception classes', () => {
    test('401 bad key, 403 missing permission, 404 unknown model, 400 bad body', async () => {
      const bad = new OpenAI({ apiKey: 'sk_live_nope', baseURL: `${g.t.url}/api/v1`, maxRetries: 0 });
      await assert.rejects(bad.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }), (e: any) => e instanceof OpenAI.AuthenticationError);
      const readOnly = await g.t.createKey({ permissions: ['models:read'] });
      const ro = new OpenAI({ apiKey: readOnly.key, baseURL: `${g.t.url}/api/v1`, maxRetries: 0 });
      await assert.rejects(ro.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
        (e: any) => e instanceof OpenAI.PermissionDeniedError && e.code === 'insufficient_permissions' && /'chat'/.test(e.message));
      await assert.rejects(g.client.chat.completions.create({ model: 'nope-1', messages: [{ role: 'user', content: 'x' }] }),
        (e: any) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
      await assert.rejects(g.client.chat.completions.create({ model: 'gpt-4o', messages: [] }),
        (e: any) => e instanceof OpenAI.BadRequestError && e.code === 'invalid_request' && e.param === 'messages');
      await assert.rejects(g.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], temperature: 7 }),
        (e: any) => e instanceof OpenAI.BadRequestError && e.param === 'temperature');
    });

    test('a provider 429 stays 429 with its retry-after; the SDK raises RateLimitError', async () => {
      // two short waits are retried inside the request; the third answer is the last attempt's
      const before = g.fakes.openai.requests.length;
      for (let i = 0; i < 2; i++) g.fakes.openai.fault({ type: 'status', status: 429, headers: { 'retry-after': '0' } });
      g.fakes.openai.fault({ type: 'status', status: 429, headers: { 'retry-after': '30' } });
      const res = await g.t.call('/api/v1/chat/completions', { key: g.t.adminKey, body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] } });
      assert.equal(res.status, 429, res.text);
      assert.equal(res.json.error.code, 'rate_limit_exceeded');
      assert.equal(res.headers.get('retry-after'), '30');
      assert.equal(g.fakes.openai.requests.length - before, 3);
      // a long retry-after is not waited out inside the request: the client gets it at once
      g.fakes.openai.fault({ type: 'status', status: 429, headers: { 'retry-after': '30' } });
      await assert.rejects(g.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }), (e: any) => e instanceof OpenAI.RateLimitError);
    });

    test('a provider 500 is retried; when retries run out the SDK raises InternalServerError (502)', async () => {
      const before = g.fakes.anthropic.requests.length;
      g.fakes.anthropic.fault({ type: 'status', status: 500 });
      const ok = await g.client.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] });
      assert.equal(ok.choices[0]!.message.content, 'Hello from anthropic!');
      assert.equal(g.fakes.anthropic.requests.length - before, 2, 'one failure, one retry');
      for (let i = 0; i < 3; i++) g.fakes.anthropic.fault({ type: 'status', status: 500 });
      await assert.rejects(g.client.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] }),
        (e: any) => e instanceof OpenAI.InternalServerError && e.status === 502 && e.code === 'upstream_error');
    });

    test('the provider rejecting Backbone\'s credentials is a 502, not a 401 to the client', async () => {
      g.fakes.openai.fault({ type: 'status', status: 401 });
      await assert.rejects(g.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
        (e: any) => e.status === 502 && e.code === 'upstream_error');
    });
  });

  test('a failing platform model falls back to the next one before any byte reaches the client', async () => {
    for (let i = 0; i < 3; i++) g.fakes.openai.fault({ type: 'status', status: 503 });
    const before = g.usage.length;
    const r = await g.client.chat.completions.create({ model: 'flaky-gpt', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r.choices[0]!.message.content, 'Hello from anthropic!');
    const e = g.usage.slice(before).find((u) => u.model === 'flaky-gpt')!;
    assert.equal(e.provider, 'anthropic');
  });

  test('every request is handed to metering, failures included', async () => {
    const before = g.usage.length;
    await g.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    await g.client.chat.completions.create({ model: 'nope-2', messages: [{ role: 'user', content: 'x' }] }).catch(() => {});
    const events = g.usage.slice(before);
    assert.equal(events.length, 2);
    assert.deepEqual(events.map((e) => [e.model, e.status, e.errorCode]), [['gpt-4o', 200, null], ['nope-2', 404, 'model_not_found']]);
    assert.ok(events.every((e) => e.keyId && e.orgId && e.requestId && e.latencyMs >= 0));
  });
});

describe('Bring Your Own Key through the gateway', () => {
  let g: GatewayFixture;
  before(async () => { g = await startGateway(); });
  after(async () => { await g?.close(); });

  test('provider/model uses the organisation\'s own account, created through /api/v1/providers', async () => {
    await assert.rejects(g.client.chat.completions.create({ model: 'anthropic/claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] }),
      (e: any) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found' && /AI Providers/.test(e.message));
    const created = await g.t.call('/api/v1/providers', { key: g.t.adminKey, body: { provider: 'anthropic', name: 'our anthropic', api_key: 'test-key', base_url: g.fakes.anthropic.baseUrl } });
    assert.equal(created.status, 201, created.text);
    const before = g.usage.length;
    const fakeBefore = g.fakes.anthropic.requests.length;
    const r = await g.client.chat.completions.create({ model: 'anthropic/claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hi' }] });
    assert.equal(r.choices[0]!.message.content, 'Hello from anthropic!');
    const sent = g.fakes.anthropic.requests.slice(fakeBefore).find((q) => q.path === '/v1/messages')!;
    assert.equal(sent.json.model, 'claude-sonnet-4-5', 'everything after the slash goes upstream unchanged');
    const e = g.usage.slice(before).find((u) => u.model === 'anthropic/claude-sonnet-4-5')!;
    assert.equal(e.byok, true);
    assert.equal(e.provider, 'anthropic');
    const s = await collect(await g.client.chat.completions.create({ model: 'anthropic/claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hi [tools]' }], tools: TOOLS, stream: true }));
    assert.deepEqual([...s.tools.keys()], [0, 1]);
    const ids = (await g.client.models.list()).data.map((m) => m.id);
    assert.ok(ids.includes('anthropic/claude-sonnet-4-5'), 'BYOK models are listed once the account exists');
  });

  test('a wrong BYOK credential is the provider\'s refusal (502), and deleting the account stops the route', async () => {
    const created = await g.t.call('/api/v1/providers', { key: g.t.adminKey, body: { provider: 'openai', api_key: 'wrong-key', base_url: g.fakes.openai.baseUrl } });
    assert.equal(created.status, 201, created.text);
    await assert.rejects(g.client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
      (e: any) => e.status === 502 && e.code === 'upstream_error');
    const patched = await g.t.call(`/api/v1/providers/${created.json.id}`, { method: 'PATCH', key: g.t.adminKey, body: { api_key: 'test-key' } });
    assert.equal(patched.status, 200);
    const ok = await g.client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(ok.choices[0]!.message.content, 'Hello from openai!');
    assert.equal((await g.t.call(`/api/v1/providers/${created.json.id}`, { method: 'DELETE', key: g.t.adminKey })).status, 200);
    await assert.rejects(g.client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
      (e: any) => e instanceof OpenAI.NotFoundError);
  });

  test('another organisation cannot use this organisation\'s provider account', async () => {
    const other = await g.t.createKey({ orgSlug: 'byok-other', permissions: [...PERMISSIONS] });
    const c = new OpenAI({ apiKey: other.key, baseURL: `${g.t.url}/api/v1`, maxRetries: 0 });
    await assert.rejects(c.chat.completions.create({ model: 'anthropic/claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] }),
      (e: any) => e instanceof OpenAI.NotFoundError);
  });
});
