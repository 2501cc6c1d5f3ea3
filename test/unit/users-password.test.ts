import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { hashPassword, verifyPassword } from '../../src/users/password.js';
import { SessionService } from '../../src/users/sessions.js';
import type { Store } from '../../src/store/index.js';

test('scrypt hashes carry their parameters, use a fresh salt, and verify only the right password', async () => {
  const a = await hashPassword('correct horse battery');
  const b = await hashPassword('correct horse battery');
  assert.match(a, /^scrypt\$65536\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{88}$/);
  assert.notEqual(a, b, 'a fresh salt each time');
  assert.equal(await verifyPassword('correct horse battery', a), true);
  assert.equal(await verifyPassword('correct horse batterz', a), false);
  assert.equal(await verifyPassword('', a), false);
});

test('the CLI\'s earlier scrypt$salt$hash form still verifies', async () => {
  const salt = randomBytes(16);
  const legacy = `scrypt$${salt.toString('base64')}$${scryptSync('an old password', salt, 64, { N: 16384, r: 8, p: 1 }).toString('base64')}`;
  assert.equal(await verifyPassword('an old password', legacy), true);
  assert.equal(await verifyPassword('a new password', legacy), false);
});

test('malformed, tampered or absurd hashes never verify (and never throw)', async () => {
  const good = await hashPassword('pw-pw-pw-pw');
  const parts = good.split('$');
  for (const bad of [null, undefined, '', 'bcrypt$x', 'scrypt$a$b', `scrypt$${1 << 30}$8$1$${parts[4]}$${parts[5]}`, `scrypt$65536$8$1$${parts[4]}$${parts[5]!.slice(0, -4)}AAA=`, good.replace('$65536$', '$16384$')]) {
    assert.equal(await verifyPassword('pw-pw-pw-pw', bad), false, String(bad));
  }
});

test('session tokens: only a keyed hash is stored; the CSRF token is per session and checked in constant time', () => {
  const s = new SessionService({} as Store, 'x'.repeat(40), 3_600_000);
  const other = new SessionService({} as Store, 'y'.repeat(40), 3_600_000);
  assert.notEqual(s.hash('token-a'), 'token-a');
  assert.notEqual(s.hash('token-a'), other.hash('token-a'), 'keyed with the secret');
  assert.notEqual(s.csrfToken('token-a'), s.csrfToken('token-b'));
  assert.notEqual(s.csrfToken('token-a'), s.hash('token-a'), 'the CSRF token is not the stored hash');
  assert.equal(s.checkCsrf('token-a', s.csrfToken('token-a')), true);
  for (const bad of [undefined, '', s.csrfToken('token-b'), ['x'], s.csrfToken('token-a').slice(1), 'z'.repeat(500)]) {
    assert.equal(s.checkCsrf('token-a', bad), false, String(bad));
  }
});
