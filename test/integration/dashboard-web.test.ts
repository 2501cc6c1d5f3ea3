/**
 * The built dashboard served by Backbone itself: `/` and client routes get the app (SPA fallback),
 * assets are served with long caching, and nothing shadows the API: unknown `/api/...` and `/v1/...`
 * paths keep the JSON 404 envelope, and /healthz and /readyz answer as before.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestApp, type TestApp } from '../support/app.js';
import { ensureWebBuild, WEB_DIST } from '../support/web-build.js';

let t: TestApp;
let dir: string;
const html = { accept: 'text/html,application/xhtml+xml' };

before(async () => {
  ensureWebBuild();
  dir = mkdtempSync(join(tmpdir(), 'backbone-web-'));
  t = await startTestApp(join(dir, 'backbone.db'), {}, { webDir: WEB_DIST });
});
after(async () => {
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('/ serves the dashboard', async () => {
  const res = await fetch(`${t.url}/`, { headers: html });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/html/);
  const body = await res.text();
  assert.match(body, /<div id="root"><\/div>/);
  assert.match(body, /\/assets\/index-[\w-]+\.js/);
});

test('client routes fall back to index.html', async () => {
  for (const path of ['/api-keys', '/usage', '/sign-in', '/setup', '/invite']) {
    const res = await fetch(`${t.url}${path}`, { headers: html });
    assert.equal(res.status, 200, path);
    assert.match(await res.text(), /<div id="root">/, path);
  }
});

test('assets are served with immutable caching', async () => {
  const js = readdirSync(join(WEB_DIST, 'assets')).find((f) => f.endsWith('.js'))!;
  const res = await fetch(`${t.url}/assets/${js}`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /javascript/);
  assert.match(res.headers.get('cache-control') ?? '', /immutable/);
});

test('nothing shadows the API: unknown /api and /v1 paths keep the JSON 404 envelope, even for a browser', async () => {
  for (const path of ['/api/v1/nope', '/api/nope', '/api', '/v1/nope']) {
    const res = await fetch(`${t.url}${path}`, { headers: html });
    assert.equal(res.status, 404, path);
    const body = await res.json() as { error: { code: string; type: string } };
    assert.equal(body.error.code, 'not_found', path);
    assert.equal(body.error.type, 'invalid_request_error');
  }
  // A non-browser client asking for an unknown page still gets JSON.
  const api = await fetch(`${t.url}/no-such-page`, { headers: { accept: 'application/json' } });
  assert.equal(api.status, 404);
  assert.equal(((await api.json()) as { error: { code: string } }).error.code, 'not_found');
});

test('health endpoints and the API answer as before', async () => {
  assert.equal((await fetch(`${t.url}/healthz`, { headers: html })).status, 200);
  assert.equal((await fetch(`${t.url}/readyz`, { headers: html })).status, 200);
  const keys = await t.call('/api/v1/keys', { key: t.adminKey });
  assert.equal(keys.status, 200);
  assert.equal(keys.json.object, 'list');
  const missing = await fetch(`${t.url}/api/v1/keys`, { headers: html });
  assert.equal(missing.status, 401);
});

test('without a build the API still runs and / is a JSON 404', async () => {
  const d = mkdtempSync(join(tmpdir(), 'backbone-noweb-'));
  const bare = await startTestApp(join(d, 'backbone.db'), {}, { webDir: join(d, 'missing') });
  try {
    const res = await fetch(`${bare.url}/`, { headers: html });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'not_found');
    assert.equal((await bare.call('/api/v1/keys', { key: bare.adminKey })).status, 200);
  } finally {
    await bare.close();
    rmSync(d, { recursive: true, force: true });
  }
});
