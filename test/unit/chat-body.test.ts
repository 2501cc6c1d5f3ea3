import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chatBodySchema, parseChatBody, plainlyValid } from '../../src/gateway/chat-body.js';
import { ApiError } from '../../src/errors.js';

const base = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] };

/** Values worth trying for each field: valid ones, near misses and the wrong types. */
const CANDIDATES: Record<string, unknown[]> = {
  model: ['m', 'x'.repeat(256), '', 'x'.repeat(257), 3, null, ['gpt-4o']],
  messages: [
    [{ role: 'system', content: 's' }, { role: 'developer', content: 'd' }, { role: 'assistant', content: null, tool_calls: [] }, { role: 'tool', tool_call_id: 't', content: 'r' }, { role: 'function', name: 'f', content: 'r' }],
    [], [{ role: 'robot', content: 'x' }], [{ content: 'no role' }], [null], ['user'], [[{ role: 'user' }]], { role: 'user' }, 'Hi', null,
  ],
  stream: [true, false, null, 'true', 1, {}],
  stream_options: [{ include_usage: true }, { include_usage: false }, {}, { extra: 1 }, null, { include_usage: 'yes' }, { include_usage: null }, [], true],
  n: [1, 128, null, 0, 129, 1.5, '2', -1, 2 ** 53],
  max_tokens: [1, 4096, 2 ** 53 - 1, null, 0, -5, 1.5, 2 ** 53, '100'],
  max_completion_tokens: [1, 100_000, null, 0, 2.5, 'x'],
  temperature: [0, 2, 0.7, null, -0.1, 2.01, '1'],
  top_p: [0, 1, 0.5, -3, 7, null, '1', {}],
  tools: [[], [{ type: 'function', function: { name: 'f', parameters: {} } }], Array.from({ length: 512 }, () => ({ type: 'function' })),
    Array.from({ length: 513 }, () => ({ type: 'function' })), [{ function: {} }], [{ type: 1 }], [null], null, {}, 'tools'],
  stop: ['\n', '', ['a', 'b'], [], Array.from({ length: 16 }, () => 's'), Array.from({ length: 17 }, () => 's'), [1], null, 5, { s: 1 }],
  user: ['u-1', '', 'x'.repeat(512), 'x'.repeat(513), null, 42],
  response_format: [{ type: 'json_object' }, 'anything: not the gateway\'s to check'],
};

function zodAccepts(body: unknown): { ok: boolean; data?: unknown } {
  const r = chatBodySchema.safeParse(body);
  return r.success ? { ok: true, data: r.data } : { ok: false };
}

/** The one rule: the plain check never passes what zod refuses, and zod would return the same value. */
function assertAgrees(body: unknown, label: string): boolean {
  const plain = plainlyValid(body);
  if (plain) {
    const z = zodAccepts(body);
    assert.ok(z.ok, `${label}: the plain check passed a body zod refuses: ${JSON.stringify(body).slice(0, 200)}`);
    assert.deepEqual(z.data, body, `${label}: zod would have changed the body`);
  }
  return plain;
}

test('every field alone: the plain check never passes what zod refuses, and passes what it is sure of', () => {
  let passed = 0;
  for (const [field, values] of Object.entries(CANDIDATES)) {
    for (const value of values) {
      const body = JSON.parse(JSON.stringify({ ...base, [field]: value })) as unknown;
      if (assertAgrees(body, `${field}=${JSON.stringify(value)?.slice(0, 40)}`)) passed++;
      // whatever zod accepts for the fields the gateway reads, the plain check accepts too: the
      // fast way is the usual way, not a rare one
      if (zodAccepts(body).ok) assert.ok(plainlyValid(body), `${field}=${JSON.stringify(value)?.slice(0, 40)}: valid, yet left to zod`);
    }
  }
  assert.ok(passed > 30, `only ${passed} bodies took the plain way`);
});

test('random mixtures of valid and invalid fields: the plain check agrees with zod on every one', () => {
  let seed = 0x9e3779b9;
  const rand = (n: number) => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed % n; };
  const fields = Object.keys(CANDIDATES);
  let plain = 0, zod = 0;
  for (let i = 0; i < 3000; i++) {
    const body: Record<string, unknown> = { ...base };
    for (const f of fields) if (rand(3) === 0) body[f] = CANDIDATES[f]![rand(CANDIDATES[f]!.length)];
    if (rand(20) === 0) delete body[rand(2) ? 'model' : 'messages'];
    const json = JSON.parse(JSON.stringify(body)) as unknown;
    if (assertAgrees(json, `case ${i}`)) plain++;
    if (zodAccepts(json).ok) zod++;
  }
  assert.equal(plain, zod, 'the plain check left some valid bodies to zod');
  assert.ok(plain > 100 && plain < 2900, `a mixture should hold both kinds (${plain} of 3000 valid)`);
});

test('not an object at all: left to zod, which words the error', () => {
  for (const v of [undefined, null, [], 'text', 42, true]) {
    assert.equal(plainlyValid(v), false);
    assert.throws(() => parseChatBody(v), (e: unknown) => e instanceof ApiError && e.code === 'invalid_request');
  }
});

test('parseChatBody: a valid body comes back as it is; an invalid one gets the 400 naming its parameter', () => {
  const body = { ...base, stream: true, stream_options: { include_usage: true }, extra_field: { kept: true } };
  assert.equal(parseChatBody(body), body);
  assert.throws(() => parseChatBody({ ...base, temperature: 3 }), (e: unknown) => e instanceof ApiError && e.code === 'invalid_request' && e.param === 'temperature');
  assert.throws(() => parseChatBody({ ...base, messages: [{ role: 'robot' }] }), (e: unknown) => e instanceof ApiError && e.param === 'messages.0.role');
});
