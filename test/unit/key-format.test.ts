import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { KEY_LENGTH, displayPrefix, generateKey, parseKey, randomBase62 } from '../../src/keys/format.js';
import { createKeyHasher } from '../../src/keys/hash.js';
import { resolvePermissions } from '../../src/keys/permissions.js';

test('generated keys have the documented shape: sk_live_/sk_test_ + 32 random + 6 checksum base62', () => {
  for (const env of ['live', 'test'] as const) {
    const { key, prefix, environment } = generateKey(env);
    assert.match(key, new RegExp(`^sk_${env}_[0-9A-Za-z]{38}$`));
    assert.equal(key.length, KEY_LENGTH);
    assert.equal(environment, env);
    assert.equal(prefix, key.slice(0, 14), 'prefix = type + first 6 random characters');
    assert.ok(key.startsWith(prefix));
    assert.deepEqual(parseKey(key), { ok: true, environment: env });
  }
});

test('keys are unique and the random part is base62 with no obvious bias', () => {
  const seen = new Set<string>();
  const counts = new Map<string, number>();
  for (let i = 0; i < 2000; i++) {
    const { key } = generateKey('live');
    assert.ok(!seen.has(key));
    seen.add(key);
    for (const ch of key.slice(8, 40)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  }
  assert.equal(counts.size, 62);
  const expected = (2000 * 32) / 62;
  for (const n of counts.values()) assert.ok(Math.abs(n - expected) < expected * 0.25, `char frequency ${n} vs ${expected}`);
});

test('a single changed character fails the checksum (typos rejected before any lookup)', () => {
  const { key } = generateKey('live');
  for (let i = 8; i < key.length; i++) {
    const c = key[i]!;
    const swapped = key.slice(0, i) + (c === 'a' ? 'b' : 'a') + key.slice(i + 1);
    assert.deepEqual(parseKey(swapped), { ok: false, reason: 'checksum' }, `position ${i}`);
  }
});

test('changing the type prefix (test -> live) fails the checksum', () => {
  const { key } = generateKey('test');
  assert.deepEqual(parseKey(key.replace('sk_test_', 'sk_live_')), { ok: false, reason: 'checksum' });
});

test('the checksum is CRC32 of prefix + random, base62, 6 characters', () => {
  const { key } = generateKey('live');
  const head = key.slice(0, 40);
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  let n = crc32(head) >>> 0;
  let s = '';
  do { s = alphabet[n % 62] + s; n = Math.floor(n / 62); } while (n > 0);
  assert.equal(key.slice(40), s.padStart(6, '0'));
});

test('malformed candidates are rejected by format', () => {
  for (const bad of ['', 'sk_live_', 'sk_prod_' + 'a'.repeat(38), 'pk_live_' + 'a'.repeat(38), 'sk_live_' + 'a'.repeat(37) + '-',
    'sk_live_' + 'a'.repeat(39), ' sk_live_' + 'a'.repeat(37), 'x'.repeat(100_000), 'sk_live_' + 'é'.repeat(38), "sk_live_' OR 1=1 --" + 'a'.repeat(19)]) {
    const r = parseKey(bad);
    assert.equal(r.ok, false, bad.slice(0, 30));
  }
});

test('displayPrefix keeps only the type and the first characters', () => {
  const { key } = generateKey('live');
  assert.equal(displayPrefix(key).length, 14);
  assert.ok(!displayPrefix(key).includes(key.slice(14)));
});

test('randomBase62 length', () => {
  assert.equal(randomBase62(1).length, 1);
  assert.equal(randomBase62(100).length, 100);
});

test('hashes are keyed: same key, different secret -> different hash; hex SHA-256 length', () => {
  const { key } = generateKey('live');
  const a = createKeyHasher('a'.repeat(40));
  const b = createKeyHasher('b'.repeat(40));
  assert.equal(a(key), a(key));
  assert.notEqual(a(key), b(key));
  assert.match(a(key), /^[0-9a-f]{64}$/);
  assert.ok(!a(key).includes(key));
});

test('permission presets and lists', () => {
  assert.deepEqual(resolvePermissions('read_only'), { ok: true, permissions: ['models:read', 'usage:read', 'keys:read', 'providers:read'] });
  const all = resolvePermissions('all');
  assert.ok(all.ok && all.permissions.length === 9);
  assert.deepEqual(resolvePermissions('chat, chat,keys:write'), { ok: true, permissions: ['chat', 'keys:write'] });
  assert.deepEqual(resolvePermissions(['chat', 'admin']), { ok: false, unknown: 'admin' });
});

test('the hasher is HMAC-SHA256 with the derived pepper, the same on a remembered key as on a new one', async () => {
  const { createHmac } = await import('node:crypto');
  const { deriveSubkey } = await import('../../src/keys/hash.js');
  const secret = 'c'.repeat(40);
  const h = createKeyHasher(secret);
  const keys = Array.from({ length: 5 }, () => generateKey('test').key);
  const expected = keys.map((k) => createHmac('sha256', deriveSubkey(secret, 'api-key-hash')).update(k).digest('hex'));
  assert.deepEqual(keys.map(h), expected); // computed
  assert.deepEqual(keys.map(h), expected); // remembered
  // distinct keys never share a remembered hash, even past the memo's bound
  const many = Array.from({ length: 60_000 }, (_, i) => `sk_test_${String(i).padStart(38, '0')}`);
  const hashes = new Set(many.map(h));
  assert.equal(hashes.size, many.length);
  assert.equal(h(keys[0]!), expected[0]);
});
