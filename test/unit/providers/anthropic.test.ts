/**
 * anthropic provider: request translation, response translation (tool use, cache usage arithmetic,
 * stop reasons) and error mapping, from fixtures in Anthropic's documented wire format.
 * Streams: anthropic-stream.test.ts; the fake over HTTP: anthropic-fake.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChatCompletionCreateParams } from 'openai/resources/chat/completions';
import { anthropicAdapter, AnthropicTranslationError, fromAnthropicResponse, toAnthropicRequest } from '../../../src/providers/anthropic/index.js';
import { toFinishReason } from '../../../src/providers/anthropic/finish-reason.js';
import { ctx, fixtureJson } from './anthropic-support.js';

const base = (extra: Partial<ChatCompletionCreateParams> = {}): ChatCompletionCreateParams => ({
  model: 'anthropic/claude-sonnet-4-5',
  messages: [{ role: 'user', content: 'Hi' }],
  ...extra,
} as ChatCompletionCreateParams);

const weatherTool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } } as const;

function throws400(fn: () => unknown, param: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AnthropicTranslationError, `expected AnthropicTranslationError, got ${String(err)}`);
    assert.equal(err.status, 400);
    assert.equal(err.error.type, 'invalid_request_error');
    assert.equal(err.error.code, 'invalid_request');
    assert.equal(err.error.param, param);
    return true;
  });
}

// ---- request ---------------------------------------------------------------------------------

test('request: system/developer hoisted, same-role turns merged, images, tool calls and results, params', () => {
  const req = fixtureJson('chat-request.openai.json') as ChatCompletionCreateParams;
  assert.deepEqual(toAnthropicRequest(req, 'claude-sonnet-4-5'), fixtureJson('chat-request.anthropic.json'));
});

test('request: adapter builds POST {base}/v1/messages with version header; key only in authHeaders', () => {
  const call = anthropicAdapter.chat.request(base(), { provider: 'anthropic', apiKey: 'sk-ant-x' }, ctx);
  assert.equal(call.method, 'POST');
  assert.equal(call.url, 'https://api.anthropic.com/v1/messages');
  assert.deepEqual(call.headers, { 'anthropic-version': '2023-06-01', 'content-type': 'application/json' });
  const body = JSON.parse(call.body ?? '') as Record<string, unknown>;
  assert.equal(body['model'], 'claude-sonnet-4-5', 'the upstream model, not the requested one');
  for (const baseUrl of ['http://127.0.0.1:9/', 'http://127.0.0.1:9/v1', 'http://127.0.0.1:9/v1/']) {
    assert.equal(anthropicAdapter.chat.request(base(), { provider: 'anthropic', baseUrl }, ctx).url, 'http://127.0.0.1:9/v1/messages');
  }
  assert.deepEqual(anthropicAdapter.authHeaders({ provider: 'anthropic', apiKey: 'sk-ant-x' }), { 'x-api-key': 'sk-ant-x' });
  const probe = anthropicAdapter.probe({ provider: 'anthropic', baseUrl: 'http://h:1' });
  assert.equal(probe.method, 'GET');
  assert.equal(probe.url, 'http://h:1/v1/models?limit=1');
  assert.equal(anthropicAdapter.embeddings, undefined);
  assert.equal(anthropicAdapter.transcription, undefined);
});

test('request: max_tokens defaults to 4096; max_completion_tokens wins over max_tokens; stop as array', () => {
  assert.equal(toAnthropicRequest(base(), 'm').max_tokens, 4096);
  assert.equal(toAnthropicRequest(base({ max_tokens: 100 }), 'm').max_tokens, 100);
  assert.equal(toAnthropicRequest(base({ max_tokens: 100, max_completion_tokens: 200 }), 'm').max_tokens, 200);
  assert.deepEqual(toAnthropicRequest(base({ stop: ['a', 'b'] }), 'm').stop_sequences, ['a', 'b']);
  const plain = toAnthropicRequest(base(), 'm');
  assert.equal(plain.stream, undefined);
  assert.equal(plain.system, undefined);
  assert.equal(plain.tools, undefined);
  assert.equal(plain.metadata, undefined);
  assert.deepEqual(plain.messages, [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }]);
});

test('request: tool_choice and parallel_tool_calls mapping', () => {
  const choice = (extra: Partial<ChatCompletionCreateParams>) => toAnthropicRequest(base({ tools: [weatherTool], ...extra }), 'm').tool_choice;
  assert.deepEqual(choice({ tool_choice: 'auto' }), { type: 'auto' });
  assert.deepEqual(choice({ tool_choice: 'required' }), { type: 'any' });
  assert.deepEqual(choice({ tool_choice: 'none' }), { type: 'none' });
  assert.deepEqual(choice({ tool_choice: { type: 'function', function: { name: 'get_weather' } } }), { type: 'tool', name: 'get_weather' });
  assert.deepEqual(choice({ tool_choice: 'required', parallel_tool_calls: false }), { type: 'any', disable_parallel_tool_use: true });
  assert.deepEqual(choice({ parallel_tool_calls: false }), { type: 'auto', disable_parallel_tool_use: true });
  assert.equal(choice({}), undefined);
  // no tools: no tool_choice (Anthropic rejects a choice without tools)
  assert.equal(toAnthropicRequest(base({ tool_choice: 'auto' }), 'm').tool_choice, undefined);
  // allowed_tools narrows the list
  const timeTool = { type: 'function', function: { name: 'get_time' } } as const;
  const out = toAnthropicRequest(base({
    tools: [weatherTool, timeTool],
    tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'get_time' } }] } },
  }), 'm');
  assert.deepEqual(out.tools, [{ name: 'get_time', input_schema: { type: 'object', properties: {} } }]);
  assert.deepEqual(out.tool_choice, { type: 'any' });
});

test('request: user -> metadata.user_id, temperature and top_p kept', () => {
  const out = toAnthropicRequest(base({ user: 'u-1', temperature: 0, top_p: 0.9 }), 'm');
  assert.deepEqual(out.metadata, { user_id: 'u-1' });
  assert.equal(out.temperature, 0);
  assert.equal(out.top_p, 0.9);
});

test('request: response_format json_schema / json_object append an instruction to the system prompt', () => {
  const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
  const out = toAnthropicRequest(base({
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Where?' }],
    response_format: { type: 'json_schema', json_schema: { name: 'place', schema } },
  }), 'm');
  assert.equal(typeof out.system, 'string');
  const system = String(out.system);
  assert.ok(system.startsWith('Be brief.\n\n'), system);
  assert.ok(system.includes('"place"') && system.includes(JSON.stringify(schema)), system);
  const obj = toAnthropicRequest(base({ response_format: { type: 'json_object' } }), 'm');
  assert.match(String(obj.system), /single valid JSON object/);
  assert.equal(toAnthropicRequest(base({ response_format: { type: 'text' } }), 'm').system, undefined);
});

test('request: cache breakpoints on parts keep system as blocks with cache_control', () => {
  const out = toAnthropicRequest(base({
    messages: [
      { role: 'system', content: [{ type: 'text', text: 'Long manual...', cache_control: { type: 'ephemeral' } } as never] },
      { role: 'user', content: [{ type: 'text', text: 'Q', prompt_cache_breakpoint: { mode: 'explicit' } }] },
    ],
  }), 'm');
  assert.deepEqual(out.system, [{ type: 'text', text: 'Long manual...', cache_control: { type: 'ephemeral' } }]);
  assert.deepEqual(out.messages[0]?.content, [{ type: 'text', text: 'Q', cache_control: { type: 'ephemeral' } }]);
});

test('request: reasoning_effort -> thinking budget inside max_tokens', () => {
  assert.deepEqual(toAnthropicRequest(base({ reasoning_effort: 'low' }), 'm').thinking, { type: 'enabled', budget_tokens: 2048 });
  assert.equal(toAnthropicRequest(base({ reasoning_effort: 'low' }), 'm').max_tokens, 4096 + 2048);
  const capped = toAnthropicRequest(base({ reasoning_effort: 'high', max_completion_tokens: 5000 }), 'm');
  assert.deepEqual([capped.max_tokens, capped.thinking?.budget_tokens], [5000, 4999]);
  assert.equal(toAnthropicRequest(base({ reasoning_effort: 'high', max_tokens: 800 }), 'm').thinking, undefined);
  assert.equal(toAnthropicRequest(base({ reasoning_effort: 'none' }), 'm').thinking, undefined);
});

test('request: a user message before tool results is reordered (tool_result blocks first)', () => {
  const out = toAnthropicRequest(base({
    messages: [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
      { role: 'user', content: 'Also, hurry.' },
      { role: 'tool', tool_call_id: 't1', content: 'sunny' },
    ],
  }), 'm');
  assert.deepEqual(out.messages[1]?.content, [{ type: 'tool_use', id: 't1', name: 'get_weather', input: {} }]);
  assert.deepEqual(out.messages[2]?.content, [
    { type: 'tool_result', tool_use_id: 't1', content: 'sunny' },
    { type: 'text', text: 'Also, hurry.' },
  ]);
});

test('request: what Anthropic cannot do is a 400 naming the OpenAI param', () => {
  const call = (args: string) => base({
    messages: [{ role: 'user', content: 'x' }, { role: 'assistant', tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: args } }] }],
  });
  throws400(() => toAnthropicRequest(call('{"a":'), 'm'), 'messages[1].tool_calls[0].function.arguments');
  throws400(() => toAnthropicRequest(call('[1,2]'), 'm'), 'messages[1].tool_calls[0].function.arguments');
  throws400(() => toAnthropicRequest(base({ n: 2 }), 'm'), 'n');
  throws400(() => toAnthropicRequest(base({
    messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }] }],
  }), 'm'), 'messages[0].content[0].image_url.url');
  throws400(() => toAnthropicRequest(base({
    messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AA==', format: 'wav' } }] }],
  }), 'm'), 'messages[0].content[0].input_audio');
  throws400(() => toAnthropicRequest(base({ tools: [{ type: 'custom', custom: { name: 'c' } }] }), 'm'), 'tools[0].type');
  assert.doesNotThrow(() => toAnthropicRequest(base({ n: 1 }), 'm'));
});

// ---- response --------------------------------------------------------------------------------

test('response: text message -> chat.completion with the requested model and a chatcmpl id', () => {
  const { body, usage } = fromAnthropicResponse(fixtureJson('message-text.json'), ctx);
  assert.equal(body.id, 'chatcmpl-msg_013Zva2CMHLNnXjNJJKqJ2EF');
  assert.equal(body.object, 'chat.completion');
  assert.equal(body.model, 'anthropic/claude-sonnet-4-5');
  assert.equal(body.created, ctx.created);
  assert.deepEqual(body.choices, [{
    index: 0, finish_reason: 'stop', logprobs: null,
    message: { role: 'assistant', content: 'Hi! My name is Claude.', refusal: null },
  }]);
  assert.deepEqual(usage, { promptTokens: 2095, completionTokens: 503, cachedTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
  assert.deepEqual(body.usage, { prompt_tokens: 2095, completion_tokens: 503, total_tokens: 2598, prompt_tokens_details: { cached_tokens: 0 } });
});

test('response: tool_use blocks -> tool_calls with JSON string arguments, finish_reason tool_calls', () => {
  const { body } = fromAnthropicResponse(fixtureJson('message-tool-use.json'), ctx);
  const choice = body.choices[0]!;
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.content, "I'll check the current weather and time in San Francisco for you.");
  assert.deepEqual(choice.message.tool_calls, [
    { id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","unit":"celsius"}' } },
    { id: 'toolu_01B7vTzN3yU8dQ2kJ5mR4wXe', type: 'function', function: { name: 'get_time', arguments: '{"timezone":"America/Los_Angeles"}' } },
  ]);
  const onlyTools = fromAnthropicResponse({ ...(fixtureJson('message-tool-use.json') as object), content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }] }, ctx);
  assert.equal(onlyTools.body.choices[0]!.message.content, null, 'content is null when the answer is only tool calls');
});

test('response: cache reads and writes are added into prompt_tokens; thinking is dropped', () => {
  const { body, usage } = fromAnthropicResponse(fixtureJson('message-thinking-cache.json'), ctx);
  assert.equal(body.choices[0]!.message.content, 'The main themes are ambition and loss.');
  // input_tokens 21 + cache_read 188086 + cache_creation 248
  assert.deepEqual(usage, { promptTokens: 188355, completionTokens: 393, cachedTokens: 188086, cacheWriteTokens: 248, reasoningTokens: 0 });
  assert.deepEqual(body.usage, {
    prompt_tokens: 188355, completion_tokens: 393, total_tokens: 188748,
    prompt_tokens_details: { cached_tokens: 188086, cache_write_tokens: 248 },
  });
});

test('response: stop_reason -> finish_reason', () => {
  const cases: Array<[string | null, string]> = [
    ['end_turn', 'stop'], ['stop_sequence', 'stop'], ['pause_turn', 'stop'], ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'], ['tool_use', 'tool_calls'], ['refusal', 'content_filter'],
    [null, 'stop'], ['some_future_reason', 'stop'],
  ];
  for (const [reason, expected] of cases) {
    assert.equal(toFinishReason(reason), expected, String(reason));
    const json = { ...(fixtureJson('message-text.json') as object), stop_reason: reason };
    assert.equal(fromAnthropicResponse(json, ctx).body.choices[0]!.finish_reason, expected, String(reason));
  }
});

test('response: a 2xx body that is not a message is a 502 upstream_error', () => {
  for (const bad of [null, {}, { type: 'message' }, 'text', { type: 'error', error: { type: 'api_error', message: 'x' } }]) {
    assert.throws(() => fromAnthropicResponse(bad, ctx), (err: unknown) =>
      err instanceof AnthropicTranslationError && err.status === 502 && err.error.code === 'upstream_error');
  }
});

// ---- errors ----------------------------------------------------------------------------------

const errors = fixtureJson('errors.json') as Record<string, unknown>;
const mapError = (status: number, name: string, headers: Record<string, string> = {}) =>
  anthropicAdapter.error(status, JSON.stringify(errors[name]), headers);

test('errors: 529 overloaded -> 502 upstream_error; 500 -> 502', () => {
  const e = mapError(529, 'overloaded');
  assert.equal(e.status, 502);
  assert.deepEqual(e.error, { message: 'anthropic: Overloaded', type: 'api_error', code: 'upstream_error' });
  assert.equal(mapError(500, 'api_error').error.code, 'upstream_error');
});

test('errors: 429 -> rate_limit_exceeded keeping retry-after', () => {
  const e = mapError(429, 'rate_limit', { 'retry-after': '17' });
  assert.equal(e.status, 429);
  assert.equal(e.error.type, 'rate_limit_error');
  assert.equal(e.error.code, 'rate_limit_exceeded');
  assert.equal(e.retryAfter, 17);
  assert.match(e.error.message, /^anthropic: Number of request tokens/);
  assert.equal(mapError(429, 'rate_limit').retryAfter, undefined);
});

test('errors: 400, 401, 404, 413, credit balance and non-JSON bodies', () => {
  const bad = mapError(400, 'invalid_request');
  assert.deepEqual([bad.status, bad.error.code, bad.error.message], [400, 'invalid_request', 'anthropic: max_tokens: Field required']);
  const auth = mapError(401, 'authentication');
  assert.deepEqual([auth.status, auth.error.type, auth.error.code], [502, 'api_error', 'upstream_error'], 'provider credentials, not the caller\'s key');
  assert.deepEqual([mapError(404, 'not_found').status, mapError(404, 'not_found').error.code], [404, 'model_not_found']);
  assert.deepEqual([mapError(413, 'request_too_large').status, mapError(413, 'request_too_large').error.code], [413, 'request_too_large']);
  const credit = mapError(400, 'credit_balance');
  assert.deepEqual([credit.status, credit.error.code], [502, 'upstream_error'], 'an unpaid account is not the caller\'s bad request');
  const html = anthropicAdapter.error(502, '<html>Bad gateway</html>', {});
  assert.deepEqual([html.status, html.error.message], [502, 'anthropic: <html>Bad gateway</html>']);
});
