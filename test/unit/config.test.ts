import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/index.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'backbone-config-'));

test('defaults: SQLite under ./data, 127.0.0.1:8080, secret generated once into the data folder', () => {
  const cwd = tmp();
  const c = loadConfig({}, { cwd });
  assert.equal(c.port, 8080);
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.databaseKind, 'sqlite');
  assert.equal(c.databaseUrl, join(cwd, 'data', 'backbone.db'));
  assert.ok(c.secret.length >= 32);
  assert.equal(readFileSync(join(cwd, 'data', 'secret'), 'utf8').trim(), c.secret);
  assert.equal(statSync(join(cwd, 'data', 'secret')).mode & 0o777, 0o600);
  assert.equal(loadConfig({}, { cwd }).secret, c.secret, 'the same secret on the next start');
});

test('every problem is listed at once', () => {
  try {
    loadConfig({ PORT: 'abc', LOG_LEVEL: 'loud', DATABASE_URL: 'postgres://x/y', REDIS_URL: 'http://r', OPENAI_API_KEY: 'k', OPENAI_BASE_URL: 'not a url', AZURE_OPENAI_API_KEY: 'k' }, { cwd: tmp() });
    assert.fail('expected ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    const text = err.problems.join('\n');
    for (const name of ['PORT', 'LOG_LEVEL', 'BACKBONE_SECRET', 'REDIS_URL', 'OPENAI_BASE_URL', 'AZURE_OPENAI_ENDPOINT']) {
      assert.ok(text.includes(name), `${name} missing from: ${text}`);
    }
    assert.ok(err.problems.length >= 6);
  }
});

test('PostgreSQL requires BACKBONE_SECRET; a short secret is refused', () => {
  assert.throws(() => loadConfig({ DATABASE_URL: 'postgres://h/db' }, { cwd: tmp() }), /BACKBONE_SECRET is required/);
  assert.throws(() => loadConfig({ BACKBONE_SECRET: 'short' }, { cwd: tmp() }), /at least 32/);
  const c = loadConfig({ DATABASE_URL: 'postgres://h/db', BACKBONE_SECRET: 'x'.repeat(40) }, { cwd: tmp() });
  assert.equal(c.databaseKind, 'postgres');
});

test('YAML file is read, environment wins, result is frozen', () => {
  const cwd = tmp();
  writeFileSync(join(cwd, 'backbone.yaml'), 'port: 9000\nhost: 0.0.0.0\nsecret: "' + 'y'.repeat(40) + '"\nproviders:\n  openai:\n    api_key: sk-file\n    base_url: http://127.0.0.1:1234/v1\n');
  const c = loadConfig({ BACKBONE_CONFIG: 'backbone.yaml', PORT: '9100' }, { cwd });
  assert.equal(c.port, 9100);
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.secret, 'y'.repeat(40));
  assert.deepEqual(c.providers.openai, { apiKey: 'sk-file', baseUrl: 'http://127.0.0.1:1234/v1' });
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.auth));
  assert.throws(() => { (c as any).port = 1; });
});

test('a bad YAML key is reported with its path', () => {
  const cwd = tmp();
  writeFileSync(join(cwd, 'b.yaml'), 'port: "eighty"\nauth:\n  nonsense: 1\n');
  assert.throws(() => loadConfig({ BACKBONE_CONFIG: 'b.yaml' }, { cwd }), (err: ConfigError) =>
    err.problems.some((p) => p.includes('port')) && err.problems.some((p) => p.includes('auth')));
});

test('platform providers are configured by their credentials', () => {
  const c = loadConfig({ ANTHROPIC_API_KEY: 'a', GEMINI_API_KEY: 'g', OLLAMA_BASE_URL: 'http://127.0.0.1:11434/', AZURE_OPENAI_API_KEY: 'z', AZURE_OPENAI_ENDPOINT: 'https://r.openai.azure.com' }, { cwd: tmp(), generateSecret: false });
  assert.deepEqual(c.providers.anthropic, { apiKey: 'a', baseUrl: undefined });
  assert.equal(c.providers.vertexAi?.apiKey, 'g');
  assert.equal(c.providers.ollama?.baseUrl, 'http://127.0.0.1:11434');
  assert.equal(c.providers.azureOpenai?.endpoint, 'https://r.openai.azure.com');
  assert.equal(c.providers.openai, undefined);
});
