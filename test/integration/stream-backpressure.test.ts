/**
 * Streams are piped with backpressure: a client that stops reading stops Backbone reading the
 * upstream (nothing piles up in memory), and everything arrives once it reads again. Driven at the
 * level where the pause lives (UpstreamClient's streamed body and pipeStream) against a real
 * upstream socket, with a client response whose consumer the test holds still: kernel socket
 * buffers, which autotune to tens of MB on loopback, would otherwise hide the pause.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { UpstreamClient } from '../../src/gateway/upstream.js';
import { ClientGone } from '../../src/gateway/client-gone.js';
import { pipeStream } from '../../src/gateway/stream.js';
import { Meter } from '../../src/gateway/meter.js';
import { PriceTable } from '../../src/metering/prices.js';
import { OpenAIStreamTranslator } from '../../src/providers/openai/stream.js';
import type { UsageEvent } from '../../src/metering/usage.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FRAMES = 3000;
const PIECE = 'x'.repeat(1000);

/** An upstream that streams FRAMES chunks of ~1 kB as fast as its socket takes them. */
function startUpstream(): Promise<{ server: Server; origin: string; written: () => number }> {
  let written = 0;
  const server = createServer(async (req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (let i = 0; i < FRAMES; i++) {
      const chunk = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: `${i}:${PIECE}` }, finish_reason: null }] };
      written++;
      if (!res.write(`data: ${JSON.stringify(chunk)}\n\n`)) await new Promise((r) => res.once('drain', r));
      if (res.destroyed) return;
    }
    res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 3, completion_tokens: FRAMES, total_tokens: FRAMES + 3 } })}\n\n`);
    res.end('data: [DONE]\n\n');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, written: () => written,
  })));
}

/** Stands in for the client's ServerResponse: writes complete only while the test lets them. */
class HeldResponse extends Writable {
  readonly received: string[] = [];
  private held: (() => void)[] = [];
  holding = true;
  constructor() { super({ highWaterMark: 16 * 1024, decodeStrings: false }); }
  writeHead(): this { return this; }
  override _write(chunk: string | Buffer, _enc: BufferEncoding, done: (err?: Error) => void): void {
    this.received.push(chunk.toString());
    if (this.holding) this.held.push(() => done());
    else done();
  }
  release(): void {
    this.holding = false;
    for (const done of this.held.splice(0)) done();
  }
}

describe('stream backpressure', () => {
  let up: Awaited<ReturnType<typeof startUpstream>>;
  let client: UpstreamClient;
  before(async () => {
    up = await startUpstream();
    client = new UpstreamClient({ connectTimeoutMs: 2000, firstByteTimeoutMs: 5000, idleTimeoutMs: 10_000, maxRetries: 0 });
  });
  after(async () => {
    await client.close();
    up.server.close();
  });

  test('a client that stops reading pauses the upstream read; every chunk arrives once it reads again', async () => {
    const raw = new HeldResponse();
    const gone = new ClientGone(raw as unknown as ServerResponse);
    const events: UsageEvent[] = [];
    const meter = new Meter({ record: (e) => events.push(e) }, new PriceTable(), {
      requestId: 'r', orgId: 'o', keyId: 'k', endpoint: 'chat', model: 'm', stream: true,
    });
    const res = await client.send('openai', { method: 'POST', url: `${up.origin}/v1/chat/completions`, headers: { 'content-type': 'application/json' }, body: '{}' }, { signal: gone });
    assert.equal(res.status, 200);
    const translator = new OpenAIStreamTranslator('openai');
    let pushed = 0;
    const counting = Object.assign(Object.create(translator) as OpenAIStreamTranslator, {
      push: (e: Parameters<OpenAIStreamTranslator['push']>[0]) => { pushed++; return translator.push(e); },
      end: () => translator.end(),
    });
    Object.defineProperty(counting, 'usage', { get: () => translator.usage });
    Object.defineProperty(counting, 'started', { get: () => translator.started });
    const done = pipeStream({ raw: raw as unknown as ServerResponse, res, provider: 'openai', translator: counting, format: 'sse', includeUsage: true, signal: gone, meter, headers: {} });

    // Let it fill the client's buffer, then watch: Backbone must stop taking events from upstream
    // (what the upstream still sends waits in the kernel's socket buffers, not in Backbone's heap).
    try {
      await sleep(300);
      const stalledAt = pushed;
      await sleep(500);
      assert.ok(stalledAt < FRAMES / 2, `only what fits the buffers is read while the client reads nothing (${stalledAt} of ${FRAMES} events)`);
      assert.equal(pushed, stalledAt, 'no upstream event was taken while the client was not reading');
      assert.ok(raw.writableLength <= 64 * 1024, `the client's buffer stays near its high-water mark (${raw.writableLength} bytes)`);
    } finally {
      raw.release();
    }
    await done;
    const text = raw.received.join('');
    const frames = text.split('\n\n').filter(Boolean);
    assert.equal(frames.at(-1), 'data: [DONE]');
    const contents = frames.slice(0, -1).map((f) => JSON.parse(f.slice('data: '.length)) as { choices: { delta: { content?: string } }[]; usage?: unknown });
    const pieces = contents.flatMap((c) => c.choices.map((ch) => ch.delta.content!));
    assert.equal(pieces.length, FRAMES, 'every chunk arrived');
    assert.ok(pieces.every((p, i) => p === `${i}:${PIECE}`), 'in order and intact');
    assert.ok(contents.at(-1)!.usage, 'the usage chunk was forwarded');
    assert.equal(up.written(), FRAMES);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.status, 200);
    assert.equal(events[0]!.completionTokens, FRAMES);
  });

  test('chunks wait (boundedly) for a reader that comes late, then all arrive in order', async () => {
    const gone = new ClientGone(new Writable() as unknown as ServerResponse);
    const res = await client.send('openai', { method: 'POST', url: `${up.origin}/v1/chat/completions`, headers: { 'content-type': 'application/json' }, body: '{}' }, { signal: gone });
    await sleep(300); // the upstream sends meanwhile; nothing reads
    const text = await res.body.text();
    const frames = text.split('\n\n').filter(Boolean);
    assert.equal(frames.at(-1), 'data: [DONE]');
    const pieces = frames.slice(0, -2).map((f) => (JSON.parse(f.slice('data: '.length)) as { choices: { delta: { content: string } }[] }).choices[0]!.delta.content);
    assert.equal(pieces.length, FRAMES);
    assert.ok(pieces.every((p, i) => p === `${i}:${PIECE}`));
  });
});
