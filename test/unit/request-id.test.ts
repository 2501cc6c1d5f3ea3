import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newRequestId } from '../../src/gateway/context.js';

test('request ids are UUIDv7 in 32 hex digits: version 7, RFC 9562 variant, the ms time up front', () => {
  const at = Date.UTC(2026, 10, 30, 12, 0, 0, 123);
  const id = newRequestId(at);
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(id[12], '7');
  assert.match(id[16]!, /^[89ab]$/);
  assert.equal(parseInt(id.slice(0, 12), 16), at);
});

test('request ids sort in the order they were made, and never repeat', () => {
  const ids = Array.from({ length: 2000 }, (_, i) => newRequestId(1_700_000_000_000 + i));
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(Array.from({ length: 10_000 }, () => newRequestId(1_700_000_000_000))).size, 10_000);
});
