/**
 * Password hashing with scrypt (node:crypto; no native dependency). The stored form carries its
 * parameters, `scrypt$N$r$p$salt$hash`, so they can be raised later without breaking old hashes;
 * the CLI's earlier `scrypt$salt$hash` form (N=16384) still verifies. Comparison is timing-safe.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const N = 65536; // 2^16: ~100-200 ms on a server core, 64 MiB of memory per hash
const R = 8;
const P = 1;
const KEYLEN = 64;
export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 1024;

function scrypt(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  const opts: ScryptOptions = { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 };
  return new Promise((resolve, reject) => scryptCb(password.normalize('NFKC'), salt, KEYLEN, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, N, R, P);
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** A hash of a random password, verified against when the email is unknown so timing does not tell. */
let dummy: Promise<string> | undefined;

/** True when `password` matches `stored`. An unknown user (`stored` null) costs the same time. */
export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  if (!stored) {
    dummy ??= hashPassword(randomBytes(16).toString('hex'));
    await verifyPassword(password, await dummy);
    return false;
  }
  const parts = stored.split('$');
  let n = 16384, r = 8, p = 1, saltB64: string | undefined, hashB64: string | undefined;
  if (parts[0] !== 'scrypt') return false;
  if (parts.length === 3) [, saltB64, hashB64] = parts;
  else if (parts.length === 6) {
    [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
    [saltB64, hashB64] = [parts[4], parts[5]];
    if (![n, r, p].every((x) => Number.isInteger(x) && x > 0) || n > 1 << 20 || r > 32 || p > 16) return false;
  } else return false;
  const expected = Buffer.from(hashB64 ?? '', 'base64');
  if (expected.length !== KEYLEN) return false;
  const actual = await scrypt(password, Buffer.from(saltB64 ?? '', 'base64'), n, r, p);
  return timingSafeEqual(actual, expected);
}
