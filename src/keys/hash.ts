/**
 * Keys are stored as HMAC-SHA256(pepper, key): a database leak alone does not allow offline
 * guessing, and lookups are by hash (an index equality match), never a string comparison of secrets.
 * The pepper is derived from BACKBONE_SECRET with HKDF so the same secret can also key encryption
 * of provider credentials without the two uses sharing key material.
 */
import { createHmac, createSecretKey, hash, hkdfSync } from 'node:crypto';

export type KeyHasher = (key: string) => string;

export function deriveSubkey(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), `backbone:${purpose}`, 32));
}

/** Hashes remembered per process; past this many the memo starts over (a flood of random keys cannot grow it). */
const MEMO_MAX = 50_000;

export function createKeyHasher(secret: string): KeyHasher {
  // A KeyObject made once: createHmac with a raw Buffer would import the key on every call.
  const pepper = createSecretKey(deriveSubkey(secret, 'api-key-hash'));
  // Every request hashes its key. An HMAC object costs ~2.7 µs; a one-shot SHA-256 ~0.5 µs, so the
  // HMAC of a key seen before is found by the key's SHA-256 (a digest of a 256-bit random secret,
  // which reveals nothing and authenticates nothing: only the HMAC is ever looked up or stored).
  const memo = new Map<string, string>();
  return (key) => {
    const fingerprint = hash('sha256', key, 'base64');
    let hmac = memo.get(fingerprint);
    if (hmac === undefined) {
      hmac = createHmac('sha256', pepper).update(key).digest('hex');
      if (memo.size >= MEMO_MAX) memo.clear();
      memo.set(fingerprint, hmac);
    }
    return hmac;
  };
}
