/**
 * Vertex AI service-account auth: the OAuth 2.0 JWT-bearer grant (RFC 7523), done with node:crypto.
 *
 * A JWT `{iss: client_email, scope: cloud-platform, aud: token_uri, iat, exp: iat+1h}` signed RS256
 * with the key file's `private_key` is POSTed to `token_uri` as
 * `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<jwt>`; Google answers
 * `{access_token, expires_in: 3599, token_type: "Bearer"}`.
 *
 * This is the one place a provider does I/O. The cache lives in the object `createTokenSource`
 * returns (one per adapter), keyed by service-account identity (never by the secret key itself).
 */
import { createPrivateKey, sign } from 'node:crypto';
import { ApiError } from '../../errors.js';
import { isRecord } from './wire.js';

export const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const JWT_LIFETIME_S = 3600;
/** Refresh this long before the token expires, so a token never dies in flight. */
const REFRESH_MARGIN_MS = 60_000;
const TOKEN_TIMEOUT_MS = 15_000;
/** Service accounts are few (one per provider account); this only bounds pathological growth. */
const MAX_CACHED = 256;

/** The fields of a service-account JSON key file that Backbone uses. */
export interface ServiceAccountKey {
  clientEmail: string;
  privateKey: string;
  privateKeyId?: string;
  projectId?: string;
  tokenUri: string;
}

const badKeyFile = (why: string): ApiError =>
  new ApiError('upstream_error', `vertex-ai: the service-account key file is invalid (${why})`);

/** Parse a service-account key file's JSON text. Error messages never include the key. */
export function parseServiceAccount(json: string): ServiceAccountKey {
  let raw: unknown;
  try { raw = JSON.parse(json); } catch { throw badKeyFile('not JSON'); }
  if (!isRecord(raw)) throw badKeyFile('not a JSON object');
  const { client_email: clientEmail, private_key: privateKey } = raw;
  if (typeof clientEmail !== 'string' || !clientEmail) throw badKeyFile('no client_email');
  if (typeof privateKey !== 'string' || !privateKey.includes('PRIVATE KEY')) throw badKeyFile('no private_key');
  const key: ServiceAccountKey = {
    clientEmail,
    // Keys pasted through environment variables often arrive with literal "\n" sequences.
    privateKey: privateKey.replace(/\\n/g, '\n'),
    tokenUri: typeof raw.token_uri === 'string' && raw.token_uri ? raw.token_uri : DEFAULT_TOKEN_URI,
  };
  if (typeof raw.private_key_id === 'string') key.privateKeyId = raw.private_key_id;
  if (typeof raw.project_id === 'string' && raw.project_id) key.projectId = raw.project_id;
  return key;
}

const b64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

/** The signed JWT assertion for the token request. */
export function signServiceAccountJwt(key: ServiceAccountKey, nowMs: number): string {
  const iat = Math.floor(nowMs / 1000);
  const header = { alg: 'RS256', typ: 'JWT', ...(key.privateKeyId ? { kid: key.privateKeyId } : {}) };
  const claims = { iss: key.clientEmail, scope: CLOUD_PLATFORM_SCOPE, aud: key.tokenUri, iat, exp: iat + JWT_LIFETIME_S };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  let privateKey;
  try { privateKey = createPrivateKey(key.privateKey); } catch { throw badKeyFile('private_key is not a PEM private key'); }
  return `${input}.${b64url(sign('sha256', Buffer.from(input), privateKey))}`;
}

export interface TokenSourceOptions {
  /** Used for the token request; the global fetch by default (tests inject a fake). */
  fetch?: typeof fetch;
  /** Clock in milliseconds; Date.now by default. */
  now?: () => number;
}

/** Access tokens for service accounts, cached until shortly before expiry. */
export interface TokenSource {
  token(key: ServiceAccountKey): Promise<string>;
}

interface Cached { token: string; expiresAt: number }

/** Create a token source with its own cache and in-flight de-duplication. */
export function createTokenSource(opts: TokenSourceOptions = {}): TokenSource {
  const doFetch = opts.fetch ?? ((input, init) => fetch(input, init));
  const now = opts.now ?? Date.now;
  const cache = new Map<string, Cached>();
  const inflight = new Map<string, Promise<string>>();

  function remember(id: string, entry: Cached): void {
    const t = now();
    for (const [k, v] of cache) if (v.expiresAt <= t) cache.delete(k);
    cache.delete(id);
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
    cache.set(id, entry);
  }

  async function refresh(id: string, key: ServiceAccountKey): Promise<string> {
    const started = now();
    const body = new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      assertion: signServiceAccountJwt(key, started),
    });
    let res: Response;
    try {
      res = await doFetch(key.tokenUri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: body.toString(),
        signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
      });
    } catch (err) {
      const timedOut = err instanceof Error && err.name === 'TimeoutError';
      throw new ApiError(timedOut ? 'upstream_timeout' : 'upstream_error',
        `vertex-ai: the OAuth token request failed${timedOut ? ' (timeout)' : ''}`);
    }
    const text = await res.text();
    let json: unknown;
    try { json = JSON.parse(text); } catch { json = undefined; }
    const o = isRecord(json) ? json : {};
    if (!res.ok || typeof o.access_token !== 'string') {
      // Google's token endpoint: `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`.
      const why = [o.error, o.error_description].filter((v) => typeof v === 'string').join(': ') || `HTTP ${res.status}`;
      throw new ApiError('upstream_error', `vertex-ai rejected the provider credentials (token endpoint ${res.status}: ${why})`);
    }
    const expiresIn = typeof o.expires_in === 'number' && o.expires_in > 0 ? o.expires_in : JWT_LIFETIME_S;
    remember(id, { token: o.access_token, expiresAt: started + expiresIn * 1000 });
    return o.access_token;
  }

  return {
    token(key) {
      // Identity, not secret: a rotated key (new private_key_id) gets its own entry.
      const id = `${key.clientEmail}\u0000${key.privateKeyId ?? ''}\u0000${key.tokenUri}`;
      const hit = cache.get(id);
      if (hit && now() < hit.expiresAt - REFRESH_MARGIN_MS) return Promise.resolve(hit.token);
      let pending = inflight.get(id);
      if (!pending) {
        pending = refresh(id, key).finally(() => inflight.delete(id));
        inflight.set(id, pending);
      }
      return pending;
    },
  };
}
