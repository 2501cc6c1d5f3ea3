/**
 * Chat completions and embeddings are served straight from node:http (gateway/fast-path.ts), not
 * by Fastify. These tests pin what that path must keep of Fastify's behaviour, over real sockets:
 * body rules (media type, size, JSON), routing (methods, query strings, prefixes), the client
 * address behind a trusted proxy (the same on both paths), the brute-force guard, and 503 while
 * the server closes.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startGateway, type GatewayFixture } from '../support/gateway.js';

const CHAT = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });

async function post(url: string, key: string | null, body: string | ReadableStream | null, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST', body,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), 'content-type': 'application/json', ...headers },
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

function assertEnvelope(r: { status: number; json: any; headers: Headers }, status: number, code: string) {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.equal(r.json?.error?.code, code, JSON.stringify(r.json));
  assert.equal(typeof r.json.error.message, 'string');
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
}

describe('gateway fast path: what Fastify used to guarantee', () => {
  let g: GatewayFixture;
  let url: string;
  before(async () => {
    g = await startGateway({ BACKBONE_MAX_BODY_MB: '1' });
    url = `${g.t.url}/api/v1/chat/completions`;
  });
  after(async () => { await g?.close(); });

  test('a body that is not JSON is 415; malformed JSON is 400; an empty body is a 400 naming the field', async () => {
    const text = await post(url, g.t.adminKey, 'hello', { 'content-type': 'text/plain' });
    assertEnvelope(text, 415, 'invalid_request');
    assert.match(text.json.error.message, /application\/json/);
    const bad = await post(url, g.t.adminKey, '{"model": "gpt-4o-mini", "messages": [');
    assertEnvelope(bad, 400, 'invalid_request');
    assert.match(bad.json.error.message, /not valid JSON/);
    const empty = await post(url, g.t.adminKey, null);
    assertEnvelope(empty, 400, 'invalid_request');
    assert.equal(empty.json.error.param, 'model');
  });

  test('a body over the limit is 413, whether its length is declared or it arrives chunked', async () => {
    const big = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(1_100_000) }] });
    assertEnvelope(await post(url, g.t.adminKey, big), 413, 'request_too_large');
    const chunks = [Buffer.from(big.slice(0, 600_000)), Buffer.from(big.slice(600_000))];
    const stream = new ReadableStream({ pull(c) { const next = chunks.shift(); if (next) c.enqueue(next); else c.close(); } });
    assertEnvelope(await post(url, g.t.adminKey, stream), 413, 'request_too_large');
    // the limit is not off by one the other way: just under it passes
    const fits = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(1_000_000) }] });
    assert.equal((await post(url, g.t.adminKey, fits)).status, 200);
  });

  test('a multi-byte character split across packets arrives whole', async () => {
    const before = g.fakes.openai.requests.length;
    const body = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'héllo €𝄞' }] }));
    const cut = body.indexOf(Buffer.from('€')) + 1; // inside the euro sign's three bytes
    const parts = [body.subarray(0, cut), body.subarray(cut)];
    const stream = new ReadableStream({ pull(c) { const next = parts.shift(); if (next) c.enqueue(next); else c.close(); } });
    const r = await post(url, g.t.adminKey, stream);
    assert.equal(r.status, 200);
    const sent = g.fakes.openai.requests.slice(before).at(-1)!;
    assert.equal(sent.json.messages[0].content, 'héllo €𝄞');
  });

  test('authentication comes first: no key is 401 with WWW-Authenticate, whatever the body', async () => {
    const r = await post(url, null, 'not json at all');
    assertEnvelope(r, 401, 'missing_api_key');
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="backbone"');
    const bad = await post(url, 'sk_live_' + 'A'.repeat(38), CHAT);
    assertEnvelope(bad, 401, 'invalid_api_key');
    assert.match(bad.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });

  test('query strings are ignored for routing; other methods and near-miss paths are the JSON 404', async () => {
    assert.equal((await post(`${url}?api-version=2024-06-01`, g.t.adminKey, CHAT)).status, 200);
    assert.equal((await post(`${g.t.url}/v1/embeddings?x=1`, g.t.adminKey, JSON.stringify({ model: 'text-embedding-3-small', input: 'hi', encoding_format: 'float' }))).status, 200);
    const get = await fetch(url, { headers: { authorization: `Bearer ${g.t.adminKey}` } });
    assert.equal(get.status, 404);
    assert.equal(((await get.json()) as any).error.code, 'not_found');
    for (const path of ['/api/v1/chat/completions/', '/api/v1/Chat/completions', '/api/v2/chat/completions']) {
      const r = await post(`${g.t.url}${path}`, g.t.adminKey, CHAT);
      assertEnvelope(r, 404, 'not_found');
    }
  });

  test('a JSON answer carries its length, request id and cost', async () => {
    const r = await post(url, g.t.adminKey, CHAT);
    assert.equal(r.status, 200);
    assert.equal(Number(r.headers.get('content-length')), Buffer.byteLength(r.text));
    assert.match(r.headers.get('x-request-id') ?? '', /^[0-9a-f]{32}$/);
    assert.match(r.headers.get('x-backbone-cost-usd') ?? '', /^\d+\.\d{8}$/);
    assert.equal(r.json.usage.cost_usd, Number(r.headers.get('x-backbone-cost-usd')));
  });
});

describe('gateway fast path: the client address and the brute-force guard', () => {
  test('with BACKBONE_TRUST_PROXY a hop count, X-Forwarded-For decides the address on both paths', async () => {
    const g = await startGateway({ BACKBONE_TRUST_PROXY: '1' });
    try {
      const k = await g.t.createKey({ permissions: ['chat', 'models:read'], allowedIps: ['203.0.113.7/32'] });
      const xff = { 'x-forwarded-for': '203.0.113.7' };
      assert.equal((await post(`${g.t.url}/api/v1/chat/completions`, k.key, CHAT, xff)).status, 200);
      assert.equal((await fetch(`${g.t.url}/api/v1/models`, { headers: { authorization: `Bearer ${k.key}`, ...xff } })).status, 200);
      // only one hop is trusted: a client cannot prepend an address of its choosing
      const spoofed = { 'x-forwarded-for': '203.0.113.7, 198.51.100.1' };
      assertEnvelope(await post(`${g.t.url}/api/v1/chat/completions`, k.key, CHAT, spoofed), 403, 'ip_not_allowed');
      assert.equal((await fetch(`${g.t.url}/api/v1/models`, { headers: { authorization: `Bearer ${k.key}`, ...spoofed } })).status, 403);
      assertEnvelope(await post(`${g.t.url}/api/v1/chat/completions`, k.key, CHAT), 403, 'ip_not_allowed');
    } finally {
      await g.close();
    }
  });

  test('without a trusted proxy, X-Forwarded-For is ignored', async () => {
    const g = await startGateway();
    try {
      const k = await g.t.createKey({ permissions: ['chat'], allowedIps: ['203.0.113.7/32'] });
      assertEnvelope(await post(`${g.t.url}/api/v1/chat/completions`, k.key, CHAT, { 'x-forwarded-for': '203.0.113.7' }), 403, 'ip_not_allowed');
    } finally {
      await g.close();
    }
  });

  test('too many bad keys from one address: 429 with Retry-After, on the fast path and off it', async () => {
    const g = await startGateway({ BACKBONE_AUTH_FAILURE_LIMIT: '3' });
    try {
      for (let i = 0; i < 3; i++) assertEnvelope(await post(`${g.t.url}/api/v1/chat/completions`, `sk_live_${'B'.repeat(37)}${i}`, CHAT), 401, 'invalid_api_key');
      const blocked = await post(`${g.t.url}/api/v1/chat/completions`, g.t.adminKey, CHAT);
      assertEnvelope(blocked, 429, 'rate_limit_exceeded');
      assert.ok(Number(blocked.headers.get('retry-after')) > 0);
      assert.equal((await fetch(`${g.t.url}/api/v1/models`, { headers: { authorization: `Bearer ${g.t.adminKey}` } })).status, 429);
    } finally {
      await g.close();
    }
  });
});

describe('shutdown', () => {
  /** A kept-alive connection that has sent one request and begun the next (so shutdown does not close it as idle). */
  async function midRequest(url: string, request: string) {
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    let received = '';
    socket.on('data', (d) => { received += d.toString('utf8'); });
    socket.write(request);
    await waitFor(() => received.endsWith('}') || received.endsWith(']}'));
    assert.match(received, /^HTTP\/1\.1 200/);
    const cut = request.indexOf('\r\n') + 2;
    socket.write(request.slice(0, cut));
    return {
      /** Send the rest of the second request; its answer. */
      async finish(): Promise<{ head: string; body: any }> {
        received = '';
        socket.write(request.slice(cut));
        await waitFor(() => received.endsWith('}') || socket.destroyed);
        const at = received.indexOf('\r\n\r\n');
        const answer = { head: received.slice(0, at), body: JSON.parse(received.slice(at + 4)) };
        socket.destroy();
        return answer;
      },
    };
  }

  test('a request arriving on a kept-alive connection while the server closes gets the 503 envelope and Connection: close, on every route', async () => {
    const g = await startGateway();
    let closing: Promise<void> | undefined;
    try {
      const auth = `Authorization: Bearer ${g.t.adminKey}\r\n`;
      const chat = await midRequest(g.t.url, `POST /api/v1/chat/completions HTTP/1.1\r\nHost: x\r\n${auth}`
        + `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(CHAT)}\r\n\r\n${CHAT}`);
      const models = await midRequest(g.t.url, `GET /api/v1/models HTTP/1.1\r\nHost: x\r\n${auth}\r\n`);
      const upstreamBefore = g.fakes.openai.requests.length;
      await new Promise((r) => setTimeout(r, 50));
      closing = g.t.close();
      await new Promise((r) => setTimeout(r, 150));
      for (const pending of [chat, models]) {
        const { head, body } = await pending.finish();
        assert.match(head, /^HTTP\/1\.1 503/);
        assert.match(head, /\r\nconnection: close/i);
        assert.match(head, /\r\ncontent-type: application\/json/i);
        assert.equal(body.error.code, 'service_unavailable');
        assert.equal(body.error.type, 'api_error');
      }
      assert.equal(g.fakes.openai.requests.length, upstreamBefore, 'the refused request never reached the provider');
    } finally {
      await closing;
      await g.close();
    }
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}
