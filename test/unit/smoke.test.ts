import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapUpstreamError, parseRetryAfter } from '../../src/providers/errors.js';
test('upstream 401 is not shown to the client as an auth error', () => {
  const e = mapUpstreamError('openai', 401, 'bad key');
  assert.equal(e.status, 502);
  assert.equal(e.error.code, 'upstream_error');
});
test('retry-after seconds', () => assert.equal(parseRetryAfter('7'), 7));
