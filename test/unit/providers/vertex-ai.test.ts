import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ApiError } from '../../../src/errors.js';
import type { ChatCompletionCreateParams, ProviderAccount, StreamOutput, TranslateContext, UpstreamCall } from '../../../src/providers/types.js';
import { createVertexAiAdapter, vertexAiAdapter } from '../../../src/providers/vertex-ai/index.js';
import { toGeminiRequest } from '../../../src/providers/vertex-ai/chat-request.js';
import { fromGeminiResponse } from '../../../src/providers/vertex-ai/chat-response.js';
import { GeminiStreamTranslator } from '../../../src/providers/vertex-ai/chat-stream.js';
import { toGeminiSchema, toFunctionParameters } from '../../../src/providers/vertex-ai/schema.js';
import { mapGoogleError } from '../../../src/providers/vertex-ai/error.js';
import { createTokenSource, parseServiceAccount, signServiceAccountJwt } from '../../../src/providers/vertex-ai/auth.js';
import { FAKE_GEMINI_API_KEY, FAKE_THOUGHT_SIGNATURE, startFakeGemini, type FakeGemini } from '../../fakes/vertex-ai.js';

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/vertex-ai/${name}`, import.meta.url), 'utf8');
const json = (name: string): unknown => JSON.parse(fixture(name));
const ctx: TranslateContext = { requestedModel: 'vertex-ai/gemini-2.5-flash', upstreamModel: 'gemini-2.5-flash', requestId: 'req_abc123', created: 1_700_000_000 };
const apiKeyAccount: ProviderAccount = { provider: 'vertex-ai', apiKey: 'k' };
const chat = (messages: ChatCompletionCreateParams['messages'], extra: Partial<ChatCompletionCreateParams> = {}): ChatCompletionCreateParams =>
  ({ model: 'gemini-2.5-flash', messages, ...extra }) as ChatCompletionCreateParams;
/** The JSON chunks a translator produced. */
const chunks = (outs: StreamOutput[]): any[] => outs.map((o) => (o.kind === 'chunk' ? JSON.parse(o.data) : o));
/** Split SSE text (Google frames events with CRLF) into events. */
const sseEvents = (text: string): Array<{ data: string }> =>
  text.split(/\r?\n\r?\n/).filter((b) => b.trim()).map((b) => ({ data: b.replace(/^data: ?/m, '') }));
function assertApiError(fn: () => unknown, status: number, param?: string): void {
  assert.throws(fn, (e: unknown) => e instanceof ApiError && e.status === status && (param === undefined || e.param === param));
}
/** Every key anywhere in a JSON value. */
function allKeys(v: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(v)) v.forEach((x) => allKeys(x, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { out.add(k); allKeys(x, out); }
  return out;
}

describe('vertex-ai request translation', () => {
  test('system and developer messages become systemInstruction; roles map; same-role turns merge', () => {
    const body = toGeminiRequest(chat([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
      { role: 'user', content: [{ type: 'text', text: 'Again' }, { type: 'text', text: '' }] },
      { role: 'assistant', content: 'Bonjour' },
      { role: 'user', content: '' },
    ]));
    assert.deepEqual(body.systemInstruction, { parts: [{ text: 'Be brief.' }, { text: 'Answer in French.' }] });
    assert.deepEqual(body.contents, [
      { role: 'user', parts: [{ text: 'Hi' }, { text: 'Again' }] },
      { role: 'model', parts: [{ text: 'Bonjour' }] },
    ]);
    assert.equal(body.generationConfig, undefined);
  });

  test('images, audio and files become inlineData / fileData with a MIME type', () => {
    const body = toGeminiRequest(chat([{ role: 'user', content: [
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.webp?size=large' } },
      { type: 'image_url', image_url: { url: 'https://example.com/photo' } },
      { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
      { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' } },
    ] }]));
    assert.deepEqual(body.contents[0]!.parts, [
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
      { fileData: { mimeType: 'image/webp', fileUri: 'https://example.com/cat.webp?size=large' } },
      { fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/photo' } },
      { inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } },
      { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0=' } },
    ]);
    assertApiError(() => toGeminiRequest(chat([{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }] }])), 400, 'messages[0].content[0]');
  });

  test('tool calls and results: names looked up by id, parallel results merged into one user turn', () => {
    const body = toGeminiRequest(chat([
      { role: 'user', content: 'Weather and time in Paris?' },
      { role: 'assistant', content: null, tool_calls: [
        { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } },
        { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '' } },
      ] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
      { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '14:00' }] },
    ]));
    assert.deepEqual(body.contents.slice(1), [
      { role: 'model', parts: [
        { functionCall: { name: 'get_weather', args: { location: 'Paris' } } },
        { functionCall: { name: 'get_time', args: {} } },
      ] },
      { role: 'user', parts: [
        { functionResponse: { name: 'get_weather', response: { content: { temp: 21 } } } },
        { functionResponse: { name: 'get_time', response: { result: '14:00' } } },
      ] },
    ]);
    assertApiError(() => toGeminiRequest(chat([{ role: 'tool', tool_call_id: 'nope', content: 'x' }])), 400, 'messages[0].tool_call_id');
    assertApiError(() => toGeminiRequest(chat([{ role: 'assistant', tool_calls: [
      { id: 'c', type: 'function', function: { name: 'f', arguments: '[1,2]' } }] }])), 400, 'messages[0].tool_calls[0].function.arguments');
  });

  test('a thought signature survives the round trip through the tool-call id', () => {
    const res = fromGeminiResponse(json('generate-content-function-calls.json'), ctx);
    const calls = res.body.choices[0]!.message.tool_calls!;
    assert.match(calls[0]!.id, /^call_[A-Za-z0-9_-]+$/);
    const next = toGeminiRequest(chat([
      { role: 'user', content: 'x' },
      { role: 'assistant', content: null, tool_calls: calls },
      ...calls.map((c) => ({ role: 'tool' as const, tool_call_id: c.id, content: 'ok' })),
    ]));
    const parts = next.contents[1]!.parts;
    assert.equal(parts[0]!.thoughtSignature, 'CiQBcsjafD9vGmQ+0u3XjJ7nY0CDv/Hj3w==');
    assert.equal(parts[1]!.thoughtSignature, undefined);
  });

  test('tools are declared with sanitised parameters; tool_choice maps to functionCallingConfig', () => {
    const tools: ChatCompletionCreateParams['tools'] = [
      { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', additionalProperties: false, properties: { location: { type: 'string' } }, required: ['location'] } } },
      { type: 'function', function: { name: 'ping', parameters: { type: 'object', properties: {} } } },
    ];
    const body = toGeminiRequest(chat([{ role: 'user', content: 'x' }], { tools }));
    assert.deepEqual(body.tools, [{ functionDeclarations: [
      { name: 'get_weather', description: 'Weather', parameters: { type: 'OBJECT', properties: { location: { type: 'STRING' } }, required: ['location'] } },
      { name: 'ping' },
    ] }]);
    assert.equal(body.toolConfig, undefined);
    const mode = (tool_choice: ChatCompletionCreateParams['tool_choice']) => toGeminiRequest(chat([{ role: 'user', content: 'x' }], { tools, tool_choice }));
    assert.deepEqual(mode('auto').toolConfig, { functionCallingConfig: { mode: 'AUTO' } });
    assert.deepEqual(mode('required').toolConfig, { functionCallingConfig: { mode: 'ANY' } });
    assert.deepEqual(mode('none').toolConfig, { functionCallingConfig: { mode: 'NONE' } });
    assert.deepEqual(mode({ type: 'function', function: { name: 'ping' } }).toolConfig, { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['ping'] } });
    const allowed = mode({ type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [{ type: 'function', function: { name: 'ping' } }] } });
    assert.deepEqual(allowed.tools![0]!.functionDeclarations.map((d) => d.name), ['ping']);
    assert.deepEqual(allowed.toolConfig, { functionCallingConfig: { mode: 'AUTO' } });
  });

  test('generationConfig from sampling, limits, stop, n, seed, penalties and response_format', () => {
    const body = toGeminiRequest(chat([{ role: 'user', content: 'x' }], {
      temperature: 0.2, top_p: 0.9, max_tokens: 50, max_completion_tokens: 100, stop: 'END', n: 2, seed: 7,
      presence_penalty: 0.5, frequency_penalty: -0.5,
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', additionalProperties: false, properties: { a: { type: 'integer', const: 1 } } } } },
    }));
    assert.deepEqual(body.generationConfig, {
      temperature: 0.2, topP: 0.9, maxOutputTokens: 100, stopSequences: ['END'], candidateCount: 2, seed: 7,
      presencePenalty: 0.5, frequencyPenalty: -0.5, responseMimeType: 'application/json',
      responseSchema: { type: 'OBJECT', properties: { a: { type: 'INTEGER', description: 'Allowed values: 1.' } } },
    });
    const jsonObject = toGeminiRequest(chat([{ role: 'user', content: 'x' }], { response_format: { type: 'json_object' }, stop: ['a', 'b'], max_tokens: 5 }));
    assert.deepEqual(jsonObject.generationConfig, { maxOutputTokens: 5, stopSequences: ['a', 'b'], responseMimeType: 'application/json' });
  });

  test('URLs: Gemini API and Vertex paths, streaming alt=sse, project from the key file, global location', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const sa = JSON.stringify({ client_email: 'a@p.iam.gserviceaccount.com', private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }), project_id: 'from-file' });
    const a = vertexAiAdapter;
    const req = chat([{ role: 'user', content: 'x' }]);
    const m = { ...ctx, upstreamModel: 'models/gemini-2.5-flash' };
    assert.equal(a.chat.request(req, apiKeyAccount, m).url, 'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent');
    assert.equal(a.chat.request({ ...req, stream: true }, { ...apiKeyAccount, baseUrl: 'http://h:1/' }, ctx).url, 'http://h:1/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    assert.equal(a.chat.request(req, { provider: 'vertex-ai', serviceAccountJson: sa, baseUrl: 'https://generativelanguage.googleapis.com' }, ctx).url,
      'https://us-central1-aiplatform.googleapis.com/v1/projects/from-file/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent');
    assert.equal(a.chat.request(req, { provider: 'vertex-ai', serviceAccountJson: sa, projectId: 'p2', location: 'global' }, ctx).url,
      'https://aiplatform.googleapis.com/v1/projects/p2/locations/global/publishers/google/models/gemini-2.5-flash:generateContent');
    const call = a.chat.request(req, apiKeyAccount, ctx);
    assert.equal(call.method, 'POST');
    assert.equal(call.headers['content-type'], 'application/json');
    assert.deepEqual(await a.authHeaders(apiKeyAccount), { 'x-goog-api-key': 'k' });
    await assert.rejects(async () => a.authHeaders({ provider: 'vertex-ai' }), ApiError);
  });
});

describe('vertex-ai schema sanitiser', () => {
  test('a Pydantic-style schema becomes Gemini\'s subset', () => {
    assert.deepEqual(toGeminiSchema(json('tool-schema-pydantic.json')), {
      type: 'OBJECT',
      properties: {
        kind: { type: 'STRING', enum: ['flight'] },
        from: { type: 'STRING', description: 'IATA code' },
        to: { type: 'STRING', nullable: true },
        date: { type: 'STRING', format: 'date-time' },
        cabin: { type: 'STRING', enum: ['economy', 'business', 'first'], description: 'Cabin class' },
        passengers: {
          type: 'ARRAY', minItems: 1, maxItems: 9,
          items: { type: 'OBJECT', properties: { name: { type: 'STRING' }, age: { type: 'INTEGER', minimum: 0, nullable: true } }, required: ['name'] },
        },
        tags: { type: 'OBJECT' },
        notes: { type: 'ARRAY', items: { type: 'STRING' } },
      },
      required: ['kind', 'from', 'to', 'passengers'],
    });
  });

  test('each forbidden field is dropped, at any depth', () => {
    const forbidden = ['additionalProperties', '$schema', '$id', '$comment', 'default', 'examples', 'patternProperties',
      'unevaluatedProperties', 'propertyNames', 'multipleOf', 'exclusiveMinimum', 'exclusiveMaximum', 'uniqueItems', 'title', 'pattern', 'minLength', '$defs', 'definitions', 'const', '$ref', 'oneOf', 'allOf'];
    for (const field of forbidden) {
      const value = field === '$ref' ? '#/$defs/X' : field === 'oneOf' || field === 'allOf' ? [{ type: 'string' }] : field.startsWith('$') || field === 'title' || field === 'pattern' ? 'x' : field === 'patternProperties' || field === '$defs' || field === 'definitions' ? { X: { type: 'string' } } : 1;
      const schema = { type: 'object', properties: { a: { type: 'array', items: { type: 'object', properties: { b: { type: 'string', [field]: value } }, [field]: value } } }, [field]: value };
      const keys = allKeys(toGeminiSchema({ ...schema, $defs: { X: { type: 'string' } } }));
      assert.equal(keys.has(field), false, `${field} survived`);
    }
  });

  test('local $refs are inlined and a cycle is cut instead of looping', () => {
    const tree = { $defs: { Node: { type: 'object', properties: { name: { type: 'string' }, children: { type: 'array', items: { $ref: '#/$defs/Node' } } } } }, $ref: '#/$defs/Node' };
    const out = toGeminiSchema(tree);
    const children = out.properties!.children!;
    assert.equal(children.type, 'ARRAY');
    assert.equal(children.items!.type, undefined, 'the recursive reference is not expanded again');
    assert.match(children.items!.description!, /Node/);
    const legacy = toGeminiSchema({ definitions: { Id: { type: 'integer', format: 'int64' } }, type: 'object', properties: { id: { $ref: '#/definitions/Id' } } });
    assert.deepEqual(legacy.properties!.id, { type: 'INTEGER', format: 'int64' });
    assert.deepEqual(toGeminiSchema({ type: 'object', properties: { self: { $ref: '#' } } }).properties!.self!.properties!.self!.type, undefined);
  });

  test('nullable type arrays, null anyOf branches, multi-type unions, allOf, const and formats', () => {
    assert.deepEqual(toGeminiSchema({ type: ['integer', 'null'] }), { type: 'INTEGER', nullable: true });
    assert.deepEqual(toGeminiSchema({ type: ['string', 'number'] }), { anyOf: [{ type: 'STRING' }, { type: 'NUMBER' }] });
    assert.deepEqual(toGeminiSchema({ anyOf: [{ type: 'string' }, { type: 'null' }], description: 'd' }), { type: 'STRING', nullable: true, description: 'd' });
    assert.deepEqual(toGeminiSchema({ oneOf: [{ type: 'string' }, { type: 'object', properties: { a: { type: 'boolean' } } }] }),
      { anyOf: [{ type: 'STRING' }, { type: 'OBJECT', properties: { a: { type: 'BOOLEAN' } } }] });
    assert.deepEqual(toGeminiSchema({ allOf: [{ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }, { properties: { b: { type: 'number' } } }] }),
      { type: 'OBJECT', properties: { a: { type: 'STRING' }, b: { type: 'NUMBER' } }, required: ['a'] });
    assert.deepEqual(toGeminiSchema({ const: 'x' }), { type: 'STRING', enum: ['x'] });
    assert.deepEqual(toGeminiSchema({ enum: ['a', null] }), { type: 'STRING', enum: ['a'], nullable: true });
    assert.deepEqual(toGeminiSchema({ type: 'string', format: 'uri' }), { type: 'STRING' });
    assert.deepEqual(toGeminiSchema({ type: 'number', format: 'double', items: { type: 'string' } }), { type: 'NUMBER', format: 'double' });
    assert.equal(toFunctionParameters({ type: 'object' }), undefined);
    assert.equal(toFunctionParameters(undefined), undefined);
  });
});

describe('vertex-ai response translation', () => {
  test('text (thoughts excluded) and usage with thoughts and cached tokens in OpenAI semantics', () => {
    const { body, usage } = fromGeminiResponse(json('generate-content-text.json'), ctx);
    assert.equal(body.id, 'chatcmpl-req_abc123');
    assert.equal(body.model, 'vertex-ai/gemini-2.5-flash');
    assert.equal(body.created, 1_700_000_000);
    assert.equal(body.object, 'chat.completion');
    assert.deepEqual(body.choices, [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help you today?', refusal: null }, finish_reason: 'stop', logprobs: null }]);
    assert.deepEqual(usage, { promptTokens: 1200, completionTokens: 59, cachedTokens: 1024, cacheWriteTokens: 0, reasoningTokens: 50 });
    assert.deepEqual(body.usage, { prompt_tokens: 1200, completion_tokens: 59, total_tokens: 1259,
      prompt_tokens_details: { cached_tokens: 1024 }, completion_tokens_details: { reasoning_tokens: 50 } });
  });

  test('function calls become tool_calls with finish_reason tool_calls', () => {
    const choice = fromGeminiResponse(json('generate-content-function-calls.json'), ctx).body.choices[0]!;
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    const calls = choice.message.tool_calls!.map((c) => (c.type === 'function' ? [c.function.name, c.function.arguments] : []));
    assert.deepEqual(calls, [['get_weather', '{"location":"Paris","unit":"celsius"}'], ['get_time', '{"timezone":"Europe/Paris"}']]);
    const ids = choice.message.tool_calls!.map((c) => c.id);
    assert.equal(new Set(ids).size, 2);
  });

  test('MAX_TOKENS -> length, SAFETY -> content_filter, a blocked prompt -> one filtered choice', () => {
    assert.equal(fromGeminiResponse(json('generate-content-max-tokens.json'), ctx).body.choices[0]!.finish_reason, 'length');
    const safety = fromGeminiResponse(json('generate-content-safety.json'), ctx).body.choices[0]!;
    assert.equal(safety.finish_reason, 'content_filter');
    assert.equal(safety.message.content, null);
    const blocked = fromGeminiResponse(json('generate-content-blocked-prompt.json'), ctx);
    assert.equal(blocked.body.choices.length, 1);
    assert.equal(blocked.body.choices[0]!.finish_reason, 'content_filter');
    assert.equal(blocked.usage.promptTokens, 25);
  });

  test('one choice per candidate', () => {
    const two = { candidates: [1, 0].map((index) => ({ index, content: { role: 'model', parts: [{ text: `c${index}` }] }, finishReason: 'STOP' })) };
    assert.deepEqual(fromGeminiResponse(two, ctx).body.choices.map((c) => [c.index, c.message.content]), [[0, 'c0'], [1, 'c1']]);
  });
});

describe('vertex-ai stream translation', () => {
  test('two function calls across events get indexes 0 and 1; exactly one usage-only chunk at the end', () => {
    const t = new GeminiStreamTranslator(ctx);
    const outs = [...sseEvents(fixture('stream-function-calls.sse')).flatMap((e) => t.push(e))];
    assert.equal(t.usage?.completionTokens, 42, 'running usage kept');
    const ended = t.end();
    const all = chunks([...outs, ...ended]);
    assert.deepEqual(all[0].choices[0].delta, { role: 'assistant', content: '' });
    assert.equal(all[1].choices[0].delta.content, 'Let me check both.');
    const calls = all.flatMap((c) => c.choices.flatMap((ch: any) => ch.delta.tool_calls ?? []));
    assert.deepEqual(calls.map((c: any) => [c.index, c.function.name, c.function.arguments, c.type]),
      [[0, 'get_weather', '{"location":"Paris"}', 'function'], [1, 'get_time', '{"timezone":"Europe/Paris"}', 'function']]);
    assert.notEqual(calls[0].id, calls[1].id);
    assert.deepEqual(all.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0].finish_reason), ['tool_calls']);
    const usageOnly = [...outs, ...ended].filter((o) => o.kind === 'chunk' && o.usageOnly);
    assert.equal(usageOnly.length, 1);
    assert.equal(ended.at(-1), usageOnly[0]);
    assert.deepEqual(JSON.parse((usageOnly[0] as { data: string }).data).choices, []);
    assert.deepEqual(JSON.parse((usageOnly[0] as { data: string }).data).usage, { prompt_tokens: 80, completion_tokens: 42, total_tokens: 122,
      prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 12 } });
    assert.equal(all.filter((c) => c.usage).length, 1);
    assert.equal(t.finishReason, 'tool_calls');
    assert.equal(t.started, true);
    assert.deepEqual(t.end(), [], 'end() is idempotent');
  });

  test('two calls in one event also get distinct indexes; MAX_TOKENS finishes with length', () => {
    const t = new GeminiStreamTranslator(ctx);
    const out = chunks(t.push({ data: JSON.stringify({ candidates: [{ index: 0, content: { role: 'model', parts: [
      { functionCall: { name: 'a', args: {} } }, { functionCall: { name: 'b', args: { x: 1 } } }] } }] }) }));
    assert.deepEqual(out.flatMap((c) => c.choices[0].delta.tool_calls ?? []).map((c: any) => c.index), [0, 1]);
    const u = new GeminiStreamTranslator(ctx);
    const fin = chunks(u.push({ data: JSON.stringify({ candidates: [{ content: { parts: [{ text: 'cut' }] }, finishReason: 'MAX_TOKENS' }] }) }));
    assert.equal(fin.at(-1).choices[0].finish_reason, 'length');
    assert.deepEqual(u.end(), [], 'no usage reported, no usage chunk');
    assert.equal(u.usage, undefined);
  });

  test('an error payload mid-stream becomes an error output (object and array forms)', () => {
    const t = new GeminiStreamTranslator(ctx);
    const [e1] = t.push({ data: fixture('error-429.json') });
    assert.equal(e1?.kind, 'error');
    assert.equal(e1?.kind === 'error' && e1.error.code, 'rate_limit_exceeded');
    const [e2] = t.push({ data: JSON.stringify([{ error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } }]) });
    assert.equal(e2?.kind === 'error' && e2.error.code, 'upstream_error');
    const [e3] = t.push({ data: '{not json' });
    assert.equal(e3?.kind, 'error');
  });
});

describe('vertex-ai errors', () => {
  test('429 RESOURCE_EXHAUSTED is a rate limit with RetryInfo retryDelay; retry-after header wins', () => {
    const e = mapGoogleError(429, fixture('error-429.json'), {});
    assert.equal(e.status, 429);
    assert.equal(e.error.code, 'rate_limit_exceeded');
    assert.equal(e.retryAfter, 7);
    assert.match(e.error.message, /exceeded your current quota/);
    assert.equal(mapGoogleError(429, fixture('error-429.json'), { 'retry-after': '2' }).retryAfter, 2);
  });

  test('400 INVALID_ARGUMENT -> 400; bad API key (a 400 at Google) and 403 -> 502; others', () => {
    const bad = mapGoogleError(400, fixture('error-400-invalid-argument.json'), {});
    assert.deepEqual([bad.status, bad.error.code], [400, 'invalid_request']);
    const key = mapGoogleError(400, fixture('error-400-api-key.json'), {});
    assert.deepEqual([key.status, key.error.code], [502, 'upstream_error']);
    const denied = mapGoogleError(403, fixture('error-403.json'), {});
    assert.deepEqual([denied.status, denied.error.type], [502, 'api_error']);
    assert.equal(mapGoogleError(404, JSON.stringify({ error: { code: 404, message: 'models/x is not found', status: 'NOT_FOUND' } }), {}).error.code, 'model_not_found');
    assert.equal(mapGoogleError(400, JSON.stringify({ error: { code: 400, message: 'User location is not supported for the API use.', status: 'FAILED_PRECONDITION' } }), {}).status, 502);
    assert.equal(mapGoogleError(504, '', {}).error.code, 'upstream_timeout');
    assert.equal(mapGoogleError(502, '<html>bad gateway</html>', {}).status, 502);
  });
});

describe('vertex-ai service-account auth', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = JSON.stringify({ type: 'service_account', project_id: 'p', private_key_id: 'kid1', client_email: 'sa@p.iam.gserviceaccount.com',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }), token_uri: 'https://oauth.test/token' });
  const key = parseServiceAccount(keyFile);
  /** A fake token endpoint counting calls; `gate` lets a test hold the answer. */
  function fakeFetch(opts: { status?: number; gate?: Promise<void> } = {}) {
    const calls: Array<{ url: string; body: URLSearchParams }> = [];
    const impl = (async (url: string | URL | Request, init?: RequestInit) => {
      calls.push({ url: String(url), body: new URLSearchParams(String(init?.body)) });
      await opts.gate;
      if (opts.status) return new Response(JSON.stringify({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' }), { status: opts.status });
      return Response.json({ access_token: `tok${calls.length}`, expires_in: 3599, token_type: 'Bearer' });
    }) as typeof fetch;
    return { impl, calls };
  }

  test('the JWT assertion is RS256-signed with the key file and carries Google\'s claims', () => {
    const jwt = signServiceAccountJwt(key, 1_700_000_000_000);
    const [h, c, s] = jwt.split('.') as [string, string, string];
    assert.ok(verify('sha256', Buffer.from(`${h}.${c}`), publicKey, Buffer.from(s, 'base64url')));
    assert.deepEqual(JSON.parse(Buffer.from(h, 'base64url').toString()), { alg: 'RS256', typ: 'JWT', kid: 'kid1' });
    assert.deepEqual(JSON.parse(Buffer.from(c, 'base64url').toString()), {
      iss: 'sa@p.iam.gserviceaccount.com', scope: 'https://www.googleapis.com/auth/cloud-platform',
      aud: 'https://oauth.test/token', iat: 1_700_000_000, exp: 1_700_003_600,
    });
  });

  test('the token request is a jwt-bearer grant; the token is cached and refreshed ~60 s before expiry', async () => {
    let now = 1_700_000_000_000;
    const f = fakeFetch();
    const a = createVertexAiAdapter({ fetch: f.impl, now: () => now });
    const account: ProviderAccount = { provider: 'vertex-ai', serviceAccountJson: keyFile };
    assert.deepEqual(await a.authHeaders(account), { authorization: 'Bearer tok1' });
    assert.equal(f.calls[0]!.url, 'https://oauth.test/token');
    assert.equal(f.calls[0]!.body.get('grant_type'), 'urn:ietf:params:oauth:grant-type:jwt-bearer');
    assert.equal(f.calls[0]!.body.get('assertion')!.split('.').length, 3);
    now += 3599_000 - 61_000;
    assert.deepEqual(await a.authHeaders(account), { authorization: 'Bearer tok1' });
    assert.equal(f.calls.length, 1);
    now += 2_000;
    assert.deepEqual(await a.authHeaders(account), { authorization: 'Bearer tok2' });
    assert.equal(f.calls.length, 2);
    const other = createVertexAiAdapter({ fetch: f.impl, now: () => now });
    await other.authHeaders(account);
    assert.equal(f.calls.length, 3, 'each adapter has its own cache');
  });

  test('concurrent refreshes are de-duplicated; a failed refresh is not cached', async () => {
    let open!: () => void;
    const f = fakeFetch({ gate: new Promise<void>((r) => { open = r; }) });
    const tokens = createTokenSource({ fetch: f.impl });
    const pending = Promise.all(Array.from({ length: 5 }, () => tokens.token(key)));
    open();
    assert.deepEqual(await pending, ['tok1', 'tok1', 'tok1', 'tok1', 'tok1']);
    assert.equal(f.calls.length, 1);
    const failing = fakeFetch({ status: 400 });
    const t2 = createTokenSource({ fetch: failing.impl });
    await assert.rejects(t2.token(key), (e: unknown) => e instanceof ApiError && e.status === 502 && /invalid_grant/.test(e.message));
    await assert.rejects(t2.token(key));
    assert.equal(failing.calls.length, 2);
  });

  test('a broken key file is a 502 that never echoes the key', () => {
    assertApiError(() => parseServiceAccount('{"client_email":"x"}'), 502);
    try { parseServiceAccount(keyFile.slice(0, -5)); assert.fail('should throw'); } catch (e) {
      assert.ok(e instanceof ApiError);
      assert.doesNotMatch(e.message, /PRIVATE KEY/);
    }
  });
});

describe('vertex-ai embeddings', () => {
  const emb = vertexAiAdapter.embeddings!;
  test('Gemini API batchEmbedContents and Vertex predict requests; token arrays rejected', () => {
    const call = emb.request({ model: 'text-embedding-004', input: ['a', 'b'], dimensions: 4 }, apiKeyAccount, { ...ctx, upstreamModel: 'text-embedding-004' });
    assert.equal(call.url, 'https://generativelanguage.googleapis.com/v1beta/models/text-embedding-004:batchEmbedContents');
    assert.deepEqual(JSON.parse(call.body!), { requests: ['a', 'b'].map((text) => ({ model: 'models/text-embedding-004', content: { parts: [{ text }] }, outputDimensionality: 4 })) });
    assertApiError(() => emb.request({ model: 'm', input: [1, 2, 3] }, apiKeyAccount, ctx), 400, 'input');
    assertApiError(() => emb.request({ model: 'm', input: [] }, apiKeyAccount, ctx), 400, 'input');
  });

  test('responses: vectors in order; Vertex token counts summed, Gemini API usage zero', () => {
    const g = emb.response(json('batch-embed-contents.json'), ctx);
    assert.deepEqual(g.body.data.map((d) => [d.index, d.embedding.length]), [[0, 4], [1, 4]]);
    assert.equal(g.body.model, ctx.requestedModel);
    assert.deepEqual(g.body.usage, { prompt_tokens: 0, total_tokens: 0 });
    const v = emb.response(json('vertex-predict-embeddings.json'), ctx);
    assert.deepEqual(v.body.data[1]!.embedding, [0.1, -0.2, 0.3]);
    assert.equal(v.usage.promptTokens, 10);
  });
});

describe('vertex-ai against the fake Gemini server (HTTP)', () => {
  let fake: FakeGemini;
  before(async () => { fake = await startFakeGemini(); });
  after(() => fake.close());

  async function send(a: typeof vertexAiAdapter, call: UpstreamCall, account: ProviderAccount): Promise<Response> {
    const headers = { ...call.headers, ...(await a.authHeaders(account)) };
    return fetch(call.url, { method: call.method, headers, ...(call.body ? { body: call.body } : {}) });
  }
  const tools: ChatCompletionCreateParams['tools'] = [
    { type: 'function', function: { name: 'book', parameters: json('tool-schema-pydantic.json') as Record<string, unknown> } },
    { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: { tz: { type: 'string' } }, additionalProperties: false } } },
  ];

  test('Gemini API: sanitised tools are accepted and streamed calls get indexes 0 and 1', async () => {
    const a = createVertexAiAdapter();
    const account: ProviderAccount = { provider: 'vertex-ai', apiKey: FAKE_GEMINI_API_KEY, baseUrl: fake.baseUrl };
    const req = chat([{ role: 'user', content: 'Book it [tools]' }], { tools, stream: true });
    const call = a.chat.request(req, account, ctx);
    const res = await send(a, call, account);
    assert.equal(res.status, 200);
    const t = a.chat.stream(ctx);
    const outs = [...sseEvents(await res.text()).flatMap((e) => t.push(e)), ...t.end()];
    const calls = chunks(outs).flatMap((c) => c.choices?.[0]?.delta?.tool_calls ?? []);
    assert.deepEqual(calls.map((c: any) => [c.index, c.function.name]), [[0, 'book'], [1, 'get_time']]);
    assert.ok(calls[0].id.endsWith(`__thought__${Buffer.from(FAKE_THOUGHT_SIGNATURE, 'base64').toString('base64url')}`), 'the signature rides in the id');
    assert.ok(!calls[1].id.includes('__thought__'));
    assert.equal(outs.filter((o) => o.kind === 'chunk' && o.usageOnly).length, 1);
    // The fake really checks: the unsanitised schema is refused in Google's words.
    const raw = JSON.parse(call.body!);
    raw.tools[0].functionDeclarations[0].parameters = json('tool-schema-pydantic.json');
    const refused = await send(a, { ...call, body: JSON.stringify(raw) }, account);
    assert.equal(refused.status, 400);
    const text = await refused.text();
    assert.match(text, /Unknown name \\"additionalProperties\\"/);
    assert.equal(a.error(refused.status, text, {}).error.code, 'invalid_request');
  });

  test('Gemini API: plain answer, [length] -> length, wrong key -> 502, probe and embeddings', async () => {
    const a = createVertexAiAdapter();
    const account: ProviderAccount = { provider: 'vertex-ai', apiKey: FAKE_GEMINI_API_KEY, baseUrl: fake.baseUrl };
    const res = await send(a, a.chat.request(chat([{ role: 'user', content: 'Hi' }]), account, ctx), account);
    const out = a.chat.response(await res.json(), ctx);
    assert.equal(out.body.choices[0]!.message.content, 'Hello from vertex-ai!');
    assert.deepEqual(out.usage, { promptTokens: 11, completionTokens: 10, cachedTokens: 4, cacheWriteTokens: 0, reasoningTokens: 3 });
    const cut = await send(a, a.chat.request(chat([{ role: 'user', content: '[length]' }]), account, ctx), account);
    assert.equal(a.chat.response(await cut.json(), ctx).body.choices[0]!.finish_reason, 'length');
    const badAccount = { ...account, apiKey: 'wrong' };
    const bad = await send(a, a.chat.request(chat([{ role: 'user', content: 'Hi' }]), badAccount, ctx), badAccount);
    assert.equal(bad.status, 400);
    assert.equal(a.error(bad.status, await bad.text(), {}).status, 502);
    assert.equal((await send(a, a.probe(account), account)).status, 200);
    const e = await send(a, a.embeddings!.request({ model: 'text-embedding-004', input: ['x', 'y'] }, account, { ...ctx, upstreamModel: 'text-embedding-004' }), account);
    assert.equal(a.embeddings!.response(await e.json(), ctx).body.data.length, 2);
  });

  test('Vertex AI: token from the fake\'s OAuth endpoint (JWT verified), reused across calls', async () => {
    const a = createVertexAiAdapter();
    const account: ProviderAccount = { provider: 'vertex-ai', serviceAccountJson: fake.serviceAccountJson, location: 'europe-west4', baseUrl: fake.baseUrl };
    const tokenCalls = () => fake.requests.filter((r) => r.path === '/token').length;
    const before = tokenCalls();
    const call = a.chat.request(chat([{ role: 'user', content: '[tools]' }], { tools }), account, ctx);
    assert.match(call.url, /\/v1\/projects\/fake-project\/locations\/europe-west4\/publishers\/google\/models\/gemini-2\.5-flash:generateContent$/);
    const res = await send(a, call, account);
    assert.equal(res.status, 200);
    assert.equal(a.chat.response(await res.json(), ctx).body.choices[0]!.finish_reason, 'tool_calls');
    assert.equal((await send(a, a.probe(account), account)).status, 200);
    const e = await send(a, a.embeddings!.request({ model: 'text-embedding-005', input: 'hello world' }, account, { ...ctx, upstreamModel: 'text-embedding-005' }), account);
    assert.equal(a.embeddings!.response(await e.json(), ctx).usage.promptTokens, 2);
    assert.equal(tokenCalls() - before, 1, 'one token for three calls');
    const unauth = await fetch(call.url, { method: 'POST', headers: { ...call.headers, authorization: 'Bearer forged' }, body: call.body! });
    assert.equal(unauth.status, 401);
    assert.equal(a.error(401, await unauth.text(), {}).status, 502);
  });

  test('faults: a 429 with RetryInfo and a mid-stream reset', async () => {
    const a = createVertexAiAdapter();
    const account: ProviderAccount = { provider: 'vertex-ai', apiKey: FAKE_GEMINI_API_KEY, baseUrl: fake.baseUrl };
    fake.fault({ type: 'status', status: 429, body: json('error-429.json') });
    const limited = await send(a, a.chat.request(chat([{ role: 'user', content: 'Hi' }]), account, ctx), account);
    const info = a.error(limited.status, await limited.text(), Object.fromEntries(limited.headers));
    assert.deepEqual([info.status, info.retryAfter], [429, 7]);
    fake.fault({ type: 'reset-mid-stream', afterEvents: 1 });
    const streamCall = a.chat.request(chat([{ role: 'user', content: 'Hi' }], { stream: true }), account, ctx);
    await assert.rejects(async () => (await send(a, streamCall, account)).text());
  });
});
