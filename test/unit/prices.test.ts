import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PriceTable, costOf } from '../../src/metering/prices.js';

const usage = (p: number, c: number, cached = 0, write = 0) => ({ promptTokens: p, completionTokens: c, cachedTokens: cached, cacheWriteTokens: write, reasoningTokens: 0 });

test('cache reads and writes are priced apart from fresh input (Anthropic cache hits are not billed at full rate)', () => {
  const t = new PriceTable();
  const sonnet = t.lookup('anthropic', 'claude-sonnet-4-5')!;
  assert.equal(sonnet.input, 3);
  // 2000 prompt tokens of which 1800 cache reads and 100 cache writes, 100 output
  const cost = costOf(sonnet, usage(2000, 100, 1800, 100));
  const expected = (100 * 3 + 1800 * 0.3 + 100 * 3.75 + 100 * 15) / 1e6;
  assert.ok(Math.abs(cost - expected) < 1e-12, `${cost} vs ${expected}`);
  const naive = costOf(sonnet, usage(2000, 100));
  assert.ok(naive > cost * 2, 'pricing cached tokens at the input rate would be several times off');
});

test('longest prefix wins; exact beats prefix; unknown models cost 0', () => {
  const t = new PriceTable();
  assert.equal(t.lookup('openai', 'gpt-4o-mini-2024-07-18')!.input, 0.15);
  assert.equal(t.lookup('openai', 'gpt-4o-2024-08-06')!.input, 2.5);
  assert.equal(t.lookup('openai', 'text-embedding-3-small')!.input, 0.02);
  assert.equal(t.lookup('openai', 'totally-new'), undefined);
  assert.equal(costOf(undefined, usage(1000, 1000)), 0);
  assert.equal(t.lookup('azure-openai', 'gpt-4o')!.input, 2.5, 'Azure falls back to OpenAI list prices');
  assert.equal(costOf(t.lookup('ollama', 'llama3.2'), usage(1000, 1000)), 0);
});

test('versioned overrides apply from their date and never rewrite the past', () => {
  const jan = Date.parse('2026-01-01');
  const t = new PriceTable([{ provider: 'openai', model: 'gpt-4o', effectiveFrom: jan, input: 5, output: 20 }]);
  assert.equal(t.lookup('openai', 'gpt-4o', jan + 1)!.input, 5);
  assert.equal(t.lookup('openai', 'gpt-4o', jan - 1)!.input, 2.5);
});

test('audio is priced per minute', () => {
  const t = new PriceTable();
  const cost = costOf(t.lookup('openai', 'whisper-1'), usage(0, 0), 90);
  assert.ok(Math.abs(cost - 0.009) < 1e-12);
});
