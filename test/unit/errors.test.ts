import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ApiError, ERROR_CODES, errorEnvelope, scrubSecrets } from '../../src/errors.js';
import { generateKey } from '../../src/keys/format.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('every error code is documented in the README error table with its status and type', () => {
  const table = readme.slice(readme.indexOf('## Error responses'));
  const rows = table.split('\n').filter((l) => l.startsWith('|'));
  for (const [code, { status, type }] of Object.entries(ERROR_CODES)) {
    const row = rows.find((r) => r.includes(`\`${code}\``));
    assert.ok(row, `${code} is not in the README`);
    assert.ok(row.includes(String(status)), `${code}: status ${status} not in its row`);
    assert.ok(row.includes(`\`${type}\``), `${code}: type ${type} not in its row`);
  }
});

test('the envelope is OpenAI-shaped and param appears only when given', () => {
  assert.deepEqual(new ApiError('invalid_api_key', 'Invalid API key').toJSON(), { error: { message: 'Invalid API key', type: 'authentication_error', code: 'invalid_api_key' } });
  assert.deepEqual(new ApiError('invalid_request', 'bad', { param: 'name' }).toJSON().error.param, 'name');
  assert.equal(new ApiError('rate_limit_exceeded', 'slow down').status, 429);
});

test('anything key-shaped is masked in messages and params', () => {
  const { key } = generateKey('test');
  const env = errorEnvelope('invalid_request', `Unknown parameter: ${key}`, key);
  assert.ok(!JSON.stringify(env).includes(key.slice(8)));
  assert.equal(scrubSecrets(`a ${key} b`), 'a sk_test_[redacted] b');
  assert.equal(scrubSecrets('no secrets here'), 'no secrets here');
});
