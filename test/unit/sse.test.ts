import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { encodeSse, NdjsonDecoder, SseDecoder } from '../../src/gateway/sse.js';
import type { SseEvent } from '../../src/providers/types.js';

const fixture = (p: string): Buffer => readFileSync(new URL(`../fixtures/${p}`, import.meta.url));
const enc = (s: string): Buffer => Buffer.from(s, 'utf8');

function decode(decoder: SseDecoder | NdjsonDecoder, chunks: Uint8Array[]): SseEvent[] {
  const out: SseEvent[] = [];
  for (const c of chunks) out.push(...decoder.push(c));
  out.push(...decoder.end());
  return out;
}

/** Every way of cutting `bytes` in two, plus one byte at a time. */
function* splits(bytes: Buffer): Generator<Uint8Array[]> {
  for (let i = 0; i <= bytes.length; i++) yield [bytes.subarray(0, i), bytes.subarray(i)];
  yield Array.from(bytes, (_b, i) => bytes.subarray(i, i + 1));
}

function assertEverySplit(bytes: Buffer, expected: SseEvent[], make: () => SseDecoder | NdjsonDecoder = () => new SseDecoder()): void {
  for (const chunks of splits(bytes)) {
    assert.deepEqual(decode(make(), chunks), expected, `split into ${chunks.length} chunk(s) at ${chunks[0]?.length}`);
  }
}

// The data strings of an SSE text with one `data: ` line per event, taken without the decoder.
const dataOf = (text: string): SseEvent[] =>
  text.split('\n\n').filter(Boolean).map((block) => ({ data: block.slice('data: '.length) }));

test('OpenAI fixture stream decodes identically at every split position', () => {
  const bytes = fixture('openai/chat-stream.sse');
  const expected = dataOf(bytes.toString('utf8'));
  assert.equal(expected.length, 7);
  assert.equal(expected[6]!.data, '[DONE]');
  assert.ok(expected[2]!.data.includes('世界 🌍'));
  assertEverySplit(bytes, expected);
});

test('CRLF line endings, including \\r at the end of one chunk and \\n at the start of the next', () => {
  const text = fixture('openai/chat-stream-tools.sse').toString('utf8');
  const expected = dataOf(text);
  assertEverySplit(enc(text.replaceAll('\n', '\r\n')), expected);
});

test('CRLF split between chunks does not end a multi-line event early', () => {
  const text = 'event: delta\r\ndata: {"a":\r\ndata: 1}\r\n\r\nevent: done\r\ndata: x\r\n\r\n';
  assertEverySplit(enc(text), [{ event: 'delta', data: '{"a":\n1}' }, { event: 'done', data: 'x' }]);
});

test('lone CR line endings', () => {
  const text = fixture('openai/chat-stream.sse').toString('utf8');
  assertEverySplit(enc(text.replaceAll('\n', '\r')), dataOf(text));
});

test('mixed line endings in one stream', () => {
  assertEverySplit(enc('data: a\r\n\r\ndata: b\r\rdata: c\n\r\ndata: d\r\n\n'), [{ data: 'a' }, { data: 'b' }, { data: 'c' }, { data: 'd' }]);
});

test('multi-byte UTF-8 split inside a character (emoji, CJK, accents)', () => {
  const text = 'data: {"c":"日本語 🎉 naïve"}\n\n';
  assertEverySplit(enc(text), [{ data: '{"c":"日本語 🎉 naïve"}' }]);
});

test('multi-line data is joined with \\n; event and id fields; comments ignored', () => {
  const text = ': keep-alive\nevent: message_delta\nid: 42\ndata: line one\ndata:line two\ndata:  two spaces keep one\n: another comment\n\n';
  assertEverySplit(enc(text), [{ event: 'message_delta', id: '42', data: 'line one\nline two\n two spaces keep one' }]);
});

test('field without a colon, empty data, event without data, unknown fields', () => {
  const text = 'data\n\nevent: ping\n\nretry: 100\nfoo: bar\ndata: x\n\ndata:\ndata:\n\n';
  assert.deepEqual(decode(new SseDecoder(), [enc(text)]), [{ data: '' }, { data: 'x' }, { data: '\n' }]);
});

test('event type resets after dispatch; the last id persists, an id with NUL is ignored', () => {
  const text = 'event: a\nid: 1\ndata: x\n\ndata: y\n\nid: 2\u0000\ndata: z\n\nid\ndata: w\n\n';
  assert.deepEqual(decode(new SseDecoder(), [enc(text)]), [
    { event: 'a', id: '1', data: 'x' }, { id: '1', data: 'y' }, { id: '1', data: 'z' }, { data: 'w' },
  ]);
});

test('a leading BOM is dropped', () => {
  assert.deepEqual(decode(new SseDecoder(), [Buffer.from([0xef, 0xbb]), Buffer.from([0xbf, ...enc('data: x\n\n')])]), [{ data: 'x' }]);
});

test('end of stream flushes a final event that lacks its blank line, or its newline', () => {
  assertEverySplit(enc('data: a\n\ndata: [DONE]\n'), [{ data: 'a' }, { data: '[DONE]' }]);
  assertEverySplit(enc('data: a\n\ndata: [DONE]'), [{ data: 'a' }, { data: '[DONE]' }]);
  assert.deepEqual(decode(new SseDecoder(), [enc(': only a comment')]), []);
});

test('push returns only completed events; nothing is dispatched before its blank line', () => {
  const d = new SseDecoder();
  assert.deepEqual(d.push(enc('data: {"a":')), []);
  assert.deepEqual(d.push(enc('1}\n')), []);
  assert.deepEqual(d.push(enc('\n')), [{ data: '{"a":1}' }]);
  assert.deepEqual(d.end(), []);
});

test('a long event delivered in many small chunks', () => {
  const big = 'x'.repeat(200_000);
  const bytes = enc(`data: ${big}\n\n`);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7));
  const out = decode(new SseDecoder(), chunks);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.data.length, big.length);
});

test('NDJSON: one event per non-blank line at every split position', () => {
  const bytes = fixture('ollama/chat-stream.ndjson');
  const lines = bytes.toString('utf8').split('\n').filter(Boolean);
  assert.equal(lines.length, 4);
  assertEverySplit(bytes, lines.map((data) => ({ data })), () => new NdjsonDecoder());
});

test('NDJSON: CRLF, blank lines and a last line without newline', () => {
  const text = '{"a":1}\r\n\r\n  \n{"b":"é🎉"}\n{"c":3}';
  assertEverySplit(enc(text), [{ data: '{"a":1}' }, { data: '{"b":"é🎉"}' }, { data: '{"c":3}' }], () => new NdjsonDecoder());
});

test('encodeSse frames one event, splitting multi-line data into data lines', () => {
  assert.equal(encodeSse('{"a":1}'), 'data: {"a":1}\n\n');
  assert.equal(encodeSse('[DONE]'), 'data: [DONE]\n\n');
  assert.equal(encodeSse('a\nb\r\nc'), 'data: a\ndata: b\ndata: c\n\n');
  assert.deepEqual(decode(new SseDecoder(), [enc(encodeSse('a\nb'))]), [{ data: 'a\nb' }]);
});
