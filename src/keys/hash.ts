/**
 * Keys are stored as HMAC-SHA256(pepper, key): a database leak alone does not allow offline
 * guessing, and lookups are by hash (an index equality match), never a string comparison of secrets.
 * The pepper is derived from BACKBONE_SECRET with HKDF so the same secret can also key encryption
 * of provider credentials without the two uses sharing key material.
 */
import { createHmac, createSecretKey, hkdfSync } from 'node:crypto';

export type KeyHasher = (key: string) => string;

export function deriveSubkey(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), `backbone:${purpose}`, 32));
}

export function createKeyHasher(secret: string): KeyHasher {
  // A KeyObject made once: createHmac with a raw Buffer would import the key on every call.
  const pepper = createSecretKey(deriveSubkey(secret, 'api-key-hash'));
  return (key) => createHmac('sha256', pepper).update(key).digest('hex');
}
