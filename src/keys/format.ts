/**
 * API key format, GitHub-style: a type prefix, a random body, and a CRC32 checksum, so typos and
 * garbage are rejected before any lookup and secret scanners can recognise a key offline.
 *
 *   sk_live_ + 32 random base62 characters + 6 base62 characters of CRC32(prefix + random)
 *
 * 32 base62 characters carry ~190 bits of entropy. The checksum covers the type prefix too, so a
 * `sk_test_` key edited into `sk_live_` fails the checksum.
 */
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

export type KeyEnvironment = 'live' | 'test';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const RANDOM_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
/** Characters of the random part kept in the visible prefix (enough to tell keys apart). */
export const VISIBLE_RANDOM_CHARS = 6;
export const KEY_LENGTH = 'sk_live_'.length + RANDOM_LENGTH + CHECKSUM_LENGTH;

const KEY_RE = /^sk_(live|test)_([0-9A-Za-z]{38})$/;

/** Uniform random base62 string (rejection sampling: no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248) out += ALPHABET[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

function base62(n: number, width: number): string {
  let s = '';
  do {
    s = ALPHABET[n % 62] + s;
    n = Math.floor(n / 62);
  } while (n > 0);
  return s.padStart(width, '0');
}

function checksum(head: string): string {
  return base62(crc32(head) >>> 0, CHECKSUM_LENGTH);
}

export interface GeneratedKey {
  key: string;
  prefix: string;
  environment: KeyEnvironment;
}

export function generateKey(environment: KeyEnvironment): GeneratedKey {
  const head = `sk_${environment}_${randomBase62(RANDOM_LENGTH)}`;
  const key = head + checksum(head);
  return { key, prefix: displayPrefix(key), environment };
}

/** `sk_live_` + the first characters of the random part: all that is kept of a key in the clear. */
export function displayPrefix(key: string): string {
  return key.slice(0, 'sk_live_'.length + VISIBLE_RANDOM_CHARS);
}

export type ParsedKey = { ok: true; environment: KeyEnvironment } | { ok: false; reason: 'format' | 'checksum' };

/** Checks shape and checksum without touching any store. */
export function parseKey(candidate: string): ParsedKey {
  if (candidate.length !== KEY_LENGTH) return { ok: false, reason: 'format' };
  const m = KEY_RE.exec(candidate);
  if (!m) return { ok: false, reason: 'format' };
  const head = candidate.slice(0, KEY_LENGTH - CHECKSUM_LENGTH);
  if (checksum(head) !== candidate.slice(KEY_LENGTH - CHECKSUM_LENGTH)) return { ok: false, reason: 'checksum' };
  return { ok: true, environment: m[1] as KeyEnvironment };
}
