/**
 * Gateway failure handling against real sockets: timeouts, resets before and during a stream,
 * client aborts that must cancel the upstream call, and audio transcription in every format
 * including bad and oversized multipart bodies.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { collect, startGateway, type GatewayFixture } from '../support/gateway.js';
import { startTestApp } from '../support/app.js';
import { startFakeGemini, FAKE_VERTEX_PROJECT } from '../fakes/vertex-ai.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const audio = () => toFile(Buffer.from('RIFF....WAVEfmt fake audio bytes'), 'hello.wav', { type: 'audio/wav' });

describe('gateway faults', () => {
  let g: GatewayFixture;
  before(async () => { g = await startGateway(); });
  after(async () => { await g?.close(); });

  test('no response headers within the first-byte timeout -> 504 upstream_timeout, not retried', async () => {
    const before = g.fakes.openai.requests.length;
    g.fakes.openai.fault({ type: 'delay', ms: 5000 });
    const t0 = Date.now();
    await assert.rejects(g.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
      (e: any) => e.status === 504 && e.code === 'upstream_timeout' && e.type === 'api_error');
    assert.ok(Date.now() - t0 < 4500, 'answered at the 1.5 s timeout, not after the 5 s upstream');
    assert.equal(g.fakes.openai.requests.length - before, 1);
    const last = g.usage.at(-1)!;
    assert.equal(last.errorCode, 'upstream_timeout');
  });

  test('connection reset before any byte is retried, then reported as 502', async () => {
    g.fakes.anthropic.fault({ type: 'reset' });
    const ok = await g.client.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(ok.choices[0]!.message.content, 'Hello from anthropic!');
    for (let i = 0; i < 3; i++) g.fakes.anthropic.fault({ type: 'reset' });
    await assert.rejects(g.client.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] }),
      (e: any) => e.status === 502 && e.code === 'upstream_error');
  });

  for (const [provider, model, fake] of [['openai', 'gpt-4o-mini', 'openai'], ['anthropic', 'claude-sonnet-4-5', 'anthropic'], ['ollama', 'llama3.2', 'ollama']] as const) {
    test(`${provider}: connection reset mid-stream -> chunks, then an error event, then the end`, async () => {
      g.fakes[fake].fault({ type: 'reset-mid-stream', afterEvents: 2 });
      const before = g.usage.length;
      const res = await fetch(`${g.t.url}/api/v1/chat/completions`, {
        method: 'POST', headers: { authorization: `Bearer ${g.t.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hi' }], stream: true }),
      });
      assert.equal(res.status, 200);
      const text = await res.text();
      const events = text.split('\n\n').filter(Boolean);
      const last = JSON.parse(events.at(-1)!.slice('data: '.length));
      assert.equal(last.error.code, 'upstream_error');
      assert.equal(last.error.type, 'api_error');
      assert.ok(!text.includes('[DONE]'), 'no [DONE] after an error');
      const e = g.usage.slice(before).find((u) => u.model === model)!;
      assert.equal(e.status, 200);
      assert.equal(e.errorCode, 'upstream_error');
      // and the SDK raises an error for it
      g.fakes[fake].fault({ type: 'reset-mid-stream', afterEvents: 2 });
      await assert.rejects(collect(await g.client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }], stream: true })), (err: any) => err instanceof OpenAI.APIError);
    });
  }

  test('a client that disconnects mid-stream cancels the upstream request', async () => {
    g.fakes.openai.fault({ type: 'slow-stream', intervalMs: 400 });
    const before = g.fakes.openai.requests.length;
    const usageBefore = g.usage.length;
    const controller = new AbortController();
    const stream = await g.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true }, { signal: controller.signal });
    let got = 0;
    // the SDK ends the iteration quietly on abort
    await (async () => { for await (const _ of stream) { got++; if (got === 1) controller.abort(); } })().catch(() => {});
    assert.equal(got, 1);
    const upstreamReq = g.fakes.openai.requests[before]!;
    for (let i = 0; i < 50 && !upstreamReq.aborted; i++) await sleep(20);
    assert.equal(upstreamReq.aborted, true, 'the upstream request was cancelled');
    for (let i = 0; i < 50 && g.usage.length === usageBefore; i++) await sleep(20);
    const e = g.usage.slice(usageBefore).find((u) => u.model === 'gpt-4o-mini')!;
    assert.equal(e.status, 499);
    assert.equal(e.errorCode, 'client_closed_request');
  });

  test('a client that disconnects while waiting for a non-streamed answer cancels it too, recorded as 499 and not logged as a failure', async () => {
    g.fakes.anthropic.fault({ type: 'delay', ms: 1000 });
    const before = g.fakes.anthropic.requests.length;
    const usageBefore = g.usage.length;
    const logsBefore = g.t.logs.length;
    const controller = new AbortController();
    const p = g.client.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'x' }] }, { signal: controller.signal });
    await sleep(150);
    controller.abort();
    await assert.rejects(p);
    const upstreamReq = g.fakes.anthropic.requests[before]!;
    for (let i = 0; i < 80 && !upstreamReq.aborted; i++) await sleep(25);
    assert.equal(upstreamReq.aborted, true);
    for (let i = 0; i < 50 && g.usage.length === usageBefore; i++) await sleep(20);
    const e = g.usage.slice(usageBefore).find((u) => u.model === 'claude-sonnet-4-5')!;
    assert.equal(e.status, 499);
    assert.equal(e.errorCode, 'client_closed_request');
    const errors = g.t.logs.slice(logsBefore).filter((l) => /"level":50/.test(l));
    assert.deepEqual(errors, [], 'a client going away is not an error on this side');
  });

  describe('audio transcription', () => {
    for (const [provider, model] of [['openai', 'whisper-1'], ['azure-openai', 'azure-whisper']] as const) {
      test(`${provider}: every response format through the SDK`, async () => {
        const json = await g.client.audio.transcriptions.create({ file: await audio(), model });
        assert.equal(typeof json.text, 'string');
        assert.ok(json.text.length > 0);
        const text = await g.client.audio.transcriptions.create({ file: await audio(), model, response_format: 'text' });
        assert.equal(typeof text, 'string');
        assert.ok(!(text as string).startsWith('{'));
        const srt = await g.client.audio.transcriptions.create({ file: await audio(), model, response_format: 'srt' }) as unknown as string;
        assert.match(srt, /^1\r?\n\d\d:\d\d:\d\d,\d{3} --> /);
        const vtt = await g.client.audio.transcriptions.create({ file: await audio(), model, response_format: 'vtt' }) as unknown as string;
        assert.match(vtt, /^WEBVTT/);
        const before = g.usage.length;
        const verbose = await g.client.audio.transcriptions.create({ file: await audio(), model, response_format: 'verbose_json', timestamp_granularities: ['word', 'segment'], language: 'en', prompt: 'hi', temperature: 0 });
        assert.equal(typeof verbose.duration, 'number');
        assert.ok(Array.isArray(verbose.words) && verbose.words.length > 0);
        const e = g.usage.slice(before).find((u) => u.endpoint === 'audio')!;
        assert.equal(e.audioSeconds, verbose.duration);
        assert.equal(e.provider, provider);
      });
    }

    test('the upload reaches the provider as multipart with the fields as given', async () => {
      const before = g.fakes.openai.requests.length;
      await g.client.audio.transcriptions.create({ file: await audio(), model: 'whisper-1', language: 'de', response_format: 'text' });
      const sent = g.fakes.openai.requests.slice(before).find((r) => r.path.endsWith('/audio/transcriptions'))!;
      assert.match(String(sent.headers['content-type']), /^multipart\/form-data; boundary=/);
      assert.ok(sent.text.includes('name="language"') && sent.text.includes('de'));
      assert.ok(sent.text.includes('filename="hello.wav"'));
      assert.equal(sent.headers.authorization, 'Bearer test-key');
    });

    const form = (fields: Record<string, string>, file?: { name: string; size: number }) => {
      const f = new FormData();
      for (const [k, v] of Object.entries(fields)) f.append(k, v);
      if (file) f.append('file', new Blob([Buffer.alloc(file.size, 1)]), file.name);
      return f;
    };
    const post = (body: FormData | string, headers: Record<string, string> = {}) =>
      fetch(`${g.t.url}/api/v1/audio/transcriptions`, { method: 'POST', headers: { authorization: `Bearer ${g.t.adminKey}`, ...headers }, body }).then(async (r) => ({ status: r.status, json: await r.json() as any }));

    test('a file over 25 MB -> 413 file_too_large', async () => {
      const r = await post(form({ model: 'whisper-1' }, { name: 'big.mp3', size: 26 * 1024 * 1024 }));
      assert.equal(r.status, 413);
      assert.equal(r.json.error.code, 'file_too_large');
      assert.equal(r.json.error.param, 'file');
    });

    test('unsupported format, missing file, missing model, unknown field -> 400 naming the param', async () => {
      const cases: [FormData, string][] = [
        [form({ model: 'whisper-1' }, { name: 'notes.txt', size: 10 }), 'file'],
        [form({ model: 'whisper-1' }), 'file'],
        [form({}, { name: 'a.mp3', size: 10 }), 'model'],
        [form({ model: 'whisper-1', response_format: 'xml' }, { name: 'a.mp3', size: 10 }), 'response_format'],
        [form({ model: 'whisper-1', bogus: '1' }, { name: 'a.mp3', size: 10 }), 'bogus'],
      ];
      for (const [body, param] of cases) {
        const r = await post(body);
        assert.equal(r.status, 400, JSON.stringify(r.json));
        assert.equal(r.json.error.code, 'invalid_request');
        assert.equal(r.json.error.param, param);
      }
    });

    test('malformed multipart and a JSON body -> 400, never a 500', async () => {
      const truncated = '--XYZ\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.mp3"\r\n\r\nabc';
      const r1 = await post(truncated, { 'content-type': 'multipart/form-data; boundary=XYZ' });
      assert.equal(r1.status, 400, JSON.stringify(r1.json));
      const r2 = await post(JSON.stringify({ model: 'whisper-1' }), { 'content-type': 'application/json' });
      assert.equal(r2.status, 400);
      assert.equal(r2.json.error.param, 'file');
    });

    test('a chat-only model answers 400 for transcription', async () => {
      await assert.rejects(g.client.audio.transcriptions.create({ file: await audio(), model: 'claude-sonnet-4-5' }), (e: any) => e instanceof OpenAI.BadRequestError && e.param === 'model');
    });
  });
});

describe('vertex-ai with a service account', () => {
  test('chat and streamed chat through Vertex AI with an OAuth token from the key file', async () => {
    const gemini = await startFakeGemini();
    const dir = mkdtempSync(join(tmpdir(), 'backbone-vertex-'));
    writeFileSync(join(dir, 'sa.json'), gemini.serviceAccountJson);
    const t = await startTestApp(join(dir, 'db.sqlite'), {
      VERTEX_SERVICE_ACCOUNT_FILE: join(dir, 'sa.json'), GEMINI_BASE_URL: gemini.baseUrl, VERTEX_PROJECT: FAKE_VERTEX_PROJECT, VERTEX_LOCATION: 'us-central1',
    });
    try {
      const client = new OpenAI({ apiKey: t.adminKey, baseURL: `${t.url}/api/v1`, maxRetries: 0 });
      const r = await client.chat.completions.create({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Hi' }] });
      assert.equal(r.choices[0]!.message.content, 'Hello from vertex-ai!');
      const s = await collect(await client.chat.completions.create({ model: 'gemini-2.5-pro', messages: [{ role: 'user', content: 'Hi' }], stream: true }));
      assert.equal(s.content, 'Hello from vertex-ai!');
      const paths = gemini.requests.map((q) => q.path);
      assert.equal(paths.filter((p) => p === '/token').length, 1, 'one token, cached for the second call');
      assert.ok(paths.some((p) => p.includes(`/v1/projects/${FAKE_VERTEX_PROJECT}/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent`)));
      const vertexCall = gemini.requests.find((q) => q.path.includes(':generateContent'))!;
      assert.match(String(vertexCall.headers.authorization), /^Bearer /);
    } finally {
      await t.close();
      await gemini.close();
    }
  });
});
