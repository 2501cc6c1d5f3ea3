/**
 * anthropic provider: stream translation from recorded Messages streams (documented SSE framing).
 * The bug peers shipped: every streamed tool call at `index: 0`. Here each tool_use block gets its
 * own index, counted over tool calls only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anthropicAdapter } from '../../../src/providers/anthropic/index.js';
import { chunksOf, ctx, fixtureText, run, sseEvents } from './anthropic-support.js';

const stream = () => anthropicAdapter.chat.stream(ctx);

test('stream: two tool calls get distinct indexes 0 and 1; arguments concatenate to valid JSON', () => {
  const t = stream();
  const chunks = chunksOf(run(t, sseEvents(fixtureText('stream-two-tools.sse')))).map((c) => c.chunk);
  const calls = chunks.flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
  assert.deepEqual([...new Set(calls.map((c) => c.index))], [0, 1]);

  // first delta of each call carries id, type and name with empty arguments; later ones only arguments
  const starts = calls.filter((c) => c.id !== undefined);
  assert.deepEqual(starts, [
    { index: 0, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', type: 'function', function: { name: 'get_weather', arguments: '' } },
    { index: 1, id: 'toolu_01Vz8kQ2rGm4wT6yH9nB3cXd', type: 'function', function: { name: 'get_time', arguments: '' } },
  ]);
  for (const c of calls.filter((c) => c.id === undefined)) {
    assert.deepEqual(Object.keys(c).sort(), ['function', 'index']);
    assert.deepEqual(Object.keys(c.function ?? {}), ['arguments']);
    assert.notEqual(c.function?.arguments, '', 'empty partial_json fragments are not forwarded');
  }
  const args = (i: number) => calls.filter((c) => c.index === i).map((c) => c.function?.arguments ?? '').join('');
  assert.deepEqual(JSON.parse(args(0)), { location: 'San Francisco, CA', unit: 'fahrenheit' });
  assert.deepEqual(JSON.parse(args(1)), { timezone: 'America/Los_Angeles' });
  assert.equal(t.finishReason, 'tool_calls');
});

test('stream: chunk envelope, first role chunk, text deltas, finish chunk, one usage-only chunk last', () => {
  const t = stream();
  assert.equal(t.usage, undefined);
  const outputs = run(t, sseEvents(fixtureText('stream-two-tools.sse')));
  assert.ok(outputs.every((o) => o.kind === 'chunk'));
  const all = chunksOf(outputs);
  for (const { chunk } of all) {
    assert.equal(chunk.id, 'chatcmpl-msg_014p7gG3wDgGV9EUtLvnow3U');
    assert.equal(chunk.object, 'chat.completion.chunk');
    assert.equal(chunk.created, ctx.created);
    assert.equal(chunk.model, 'anthropic/claude-sonnet-4-5');
  }
  assert.deepEqual(all[0]!.chunk.choices, [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }]);
  const text = all.flatMap(({ chunk }) => chunk.choices.map((c) => c.delta.content ?? '')).join('');
  assert.equal(text, "Okay, let's check the weather and the time in San Francisco:");

  const finishes = all.flatMap(({ chunk }) => chunk.choices.filter((c) => c.finish_reason !== null));
  assert.deepEqual(finishes, [{ index: 0, delta: {}, finish_reason: 'tool_calls', logprobs: null }]);

  const usageChunks = all.filter((c) => c.usageOnly);
  assert.equal(usageChunks.length, 1);
  assert.equal(all[all.length - 1]!.usageOnly, true, 'the usage-only chunk is last');
  const last = usageChunks[0]!.chunk;
  assert.deepEqual(last.choices, []);
  // input 472 + cache read 2000 + cache write 100; output_tokens is cumulative: 89, not 2 + 89
  assert.deepEqual(last.usage, {
    prompt_tokens: 2572, completion_tokens: 89, total_tokens: 2661,
    prompt_tokens_details: { cached_tokens: 2000, cache_write_tokens: 100 },
  });
  assert.deepEqual(t.usage, { promptTokens: 2572, completionTokens: 89, cachedTokens: 2000, cacheWriteTokens: 100, reasoningTokens: 0 });
  assert.equal(t.started, true);
  assert.deepEqual(t.end(), [], 'end() after message_stop adds nothing');
});

test('stream: thinking blocks are not forwarded; max_tokens -> length', () => {
  const t = stream();
  const all = chunksOf(run(t, sseEvents(fixtureText('stream-thinking.sse'))));
  const deltas = all.flatMap(({ chunk }) => chunk.choices.map((c) => c.delta));
  assert.equal(deltas.map((d) => d.content ?? '').join(''), 'The greatest common divisor of 1071 and 462 is **21**.');
  assert.ok(!JSON.stringify(all).includes('Euclidean'), 'thinking text stays out of the answer');
  assert.ok(!JSON.stringify(all).includes('EqQBCgIYAhIM'), 'signatures stay out too');
  assert.equal(t.finishReason, 'length');
  assert.deepEqual(t.usage, { promptTokens: 50, completionTokens: 512, cachedTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
});

test('stream: a mid-stream error event becomes an error output, and nothing follows it', () => {
  const t = stream();
  const events = sseEvents(fixtureText('stream-error.sse'));
  const outputs = events.flatMap((e) => t.push(e));
  const last = outputs[outputs.length - 1];
  assert.deepEqual(last, { kind: 'error', error: { message: 'anthropic: Overloaded', type: 'api_error', code: 'upstream_error' } });
  assert.equal(outputs.filter((o) => o.kind === 'error').length, 1);
  assert.equal(chunksOf(outputs).map((c) => c.chunk.choices[0]?.delta.content ?? '').join(''), 'Hello');
  assert.deepEqual(t.push({ event: 'message_stop', data: '{"type":"message_stop"}' }), []);
  assert.deepEqual(t.end(), []);
  assert.equal(chunksOf(outputs).some((c) => c.usageOnly), false);
});

test('stream: error event types map like HTTP errors (rate limit -> 429 code)', () => {
  const t = stream();
  const out = t.push({ event: 'error', data: '{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}' });
  assert.deepEqual(out, [{ kind: 'error', error: { message: 'anthropic: slow down', type: 'rate_limit_error', code: 'rate_limit_exceeded' } }]);
});

test('stream: ended without message_stop: truncated -> error; after message_delta -> flush usage', () => {
  const frames = sseEvents(fixtureText('stream-two-tools.sse'));
  const cut = stream();
  const before = frames.slice(0, 5).flatMap((e) => cut.push(e));
  assert.ok(before.length > 0);
  const ended = cut.end();
  assert.equal(ended.length, 1);
  assert.equal(ended[0]?.kind, 'error');

  const lateStop = stream();
  const outputs = [...frames.slice(0, -1).flatMap((e) => lateStop.push(e)), ...lateStop.end()];
  const usageChunks = chunksOf(outputs).filter((c) => c.usageOnly);
  assert.equal(usageChunks.length, 1);
  assert.equal(usageChunks[0]!.chunk.usage?.completion_tokens, 89);
});

test('stream: malformed data is an upstream error; ping and unknown events are ignored', () => {
  const t = stream();
  assert.deepEqual(t.push({ event: 'ping', data: '{"type":"ping"}' }), []);
  assert.deepEqual(t.push({ event: 'future_event', data: '{"type":"future_event","x":1}' }), []);
  assert.equal(t.started, false);
  const out = t.push({ event: 'content_block_delta', data: '{not json' });
  assert.equal(out.length, 1);
  assert.equal(out[0]?.kind, 'error');
  assert.equal(out[0]?.kind === 'error' ? out[0].error.code : '', 'upstream_error');
});

test('stream: each translator has its own state (indexes restart at 0)', () => {
  const events = sseEvents(fixtureText('stream-two-tools.sse'));
  for (let i = 0; i < 2; i++) {
    const calls = chunksOf(run(stream(), events)).flatMap((c) => c.chunk.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
    assert.deepEqual(calls.filter((c) => c.id).map((c) => c.index), [0, 1]);
  }
});
