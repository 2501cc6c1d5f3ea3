/** Encryption of stored provider credentials: round trip, fresh IVs, tamper and AAD checks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCredentialCipher, CredentialDecryptError } from '../../src/accounts/crypto.js';
import { AccountCache } from '../../src/accounts/cache.js';

const SECRET = 'unit-test-secret-unit-test-secret-0123456789';
const ctx = { orgId: 'org_A', provider: 'openai' };
const plaintext = JSON.stringify({ apiKey: 'sk-proj-very-secret-value-1234' });
const b64 = (s: string) => Buffer.from(s, 'base64url');

test('round trip, versioned v1.<iv>.<tag>.<ciphertext> with a 12-byte IV and 16-byte tag', () => {
  const c = createCredentialCipher(SECRET);
  const sealed = c.encrypt(plaintext, ctx);
  const [v, iv, tag, ct, ...rest] = sealed.split('.');
  assert.equal(v, 'v1');
  assert.equal(rest.length, 0);
  assert.equal(b64(iv!).length, 12);
  assert.equal(b64(tag!).length, 16);
  assert.equal(b64(ct!).length, Buffer.byteLength(plaintext));
  assert.match(sealed, /^[A-Za-z0-9_.-]+$/, 'base64url parts only');
  assert.ok(!sealed.includes('very-secret'));
  assert.equal(c.decrypt(sealed, ctx), plaintext);
});

test('every encryption uses a fresh IV', () => {
  const c = createCredentialCipher(SECRET);
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) seen.add(c.encrypt(plaintext, ctx).split('.')[1]!);
  assert.equal(seen.size, 200);
  assert.notEqual(c.encrypt(plaintext, ctx), c.encrypt(plaintext, ctx));
});

test('the organisation and provider are authenticated: a copied ciphertext fails elsewhere', () => {
  const c = createCredentialCipher(SECRET);
  const sealed = c.encrypt(plaintext, ctx);
  assert.throws(() => c.decrypt(sealed, { orgId: 'org_B', provider: 'openai' }), CredentialDecryptError);
  assert.throws(() => c.decrypt(sealed, { orgId: 'org_A', provider: 'anthropic' }), CredentialDecryptError);
  // No separator games: ("org_A:x", "y") and ("org_A", "x:y") must not share AAD.
  const odd = c.encrypt(plaintext, { orgId: 'org_A:x', provider: 'y' });
  assert.throws(() => c.decrypt(odd, { orgId: 'org_A', provider: 'x:y' }), CredentialDecryptError);
});

test('another BACKBONE_SECRET cannot decrypt', () => {
  const sealed = createCredentialCipher(SECRET).encrypt(plaintext, ctx);
  assert.throws(() => createCredentialCipher(SECRET + 'x').decrypt(sealed, ctx), CredentialDecryptError);
});

test('tampering with any part, truncation, or an unknown version throws', () => {
  const c = createCredentialCipher(SECRET);
  const sealed = c.encrypt(plaintext, ctx);
  const parts = sealed.split('.');
  const flip = (s: string, at: number) => {
    const buf = b64(s);
    buf[at] = buf[at]! ^ 0x01;
    return buf.toString('base64url');
  };
  for (let i = 1; i <= 3; i++) {
    const p = [...parts];
    p[i] = flip(p[i]!, 0);
    assert.throws(() => c.decrypt(p.join('.'), ctx), CredentialDecryptError, `part ${i}`);
  }
  const ct = b64(parts[3]!);
  assert.throws(() => c.decrypt([...parts.slice(0, 3), ct.subarray(0, ct.length - 1).toString('base64url')].join('.'), ctx), CredentialDecryptError);
  assert.throws(() => c.decrypt([parts[0], parts[1], b64(parts[2]!).subarray(0, 12).toString('base64url'), parts[3]].join('.'), ctx), CredentialDecryptError, 'a truncated tag');
  assert.throws(() => c.decrypt(['v2', ...parts.slice(1)].join('.'), ctx), CredentialDecryptError);
  for (const junk of ['', 'v1', 'v1...', 'not a ciphertext', plaintext]) assert.throws(() => c.decrypt(junk, ctx), CredentialDecryptError);
});

test('decryption errors never carry the plaintext or key material', () => {
  const c = createCredentialCipher(SECRET);
  const sealed = c.encrypt(plaintext, ctx);
  try {
    c.decrypt(sealed, { orgId: 'org_B', provider: 'openai' });
    assert.fail('expected a throw');
  } catch (err) {
    assert.ok(err instanceof CredentialDecryptError);
    assert.ok(!String((err as Error).message).includes('very-secret'));
    assert.ok(!String((err as Error).message).includes(SECRET));
  }
});

test('the account cache: bounded, per-organisation invalidation, and no stale re-insert', () => {
  const cache = new AccountCache({ max: 3 });
  const acct = new Map([['openai' as const, { account: { provider: 'openai' as const, apiKey: 'k' } }]]);
  for (const org of ['a', 'b', 'c', 'd']) cache.set(org, acct, cache.currentEpoch());
  assert.equal(cache.size, 3);
  assert.equal(cache.get('a'), undefined, 'the least recently used organisation was evicted');
  cache.invalidateOrg('b');
  assert.equal(cache.get('b'), undefined);
  assert.ok(cache.get('c'));
  const epoch = cache.currentEpoch();
  cache.invalidateOrg('c'); // changed while a load was in flight
  cache.set('c', acct, epoch);
  assert.equal(cache.get('c'), undefined);
});
