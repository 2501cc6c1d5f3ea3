/**
 * The upstream HTTP client: one undici Agent (pooled keep-alive connections per origin) for all
 * providers, connect / first-byte / idle timeouts, and retries with capped, jittered back-off that
 * honours `retry-after` — only before anything reached the client, and only on connection
 * errors, 408, 409, 429 and 5xx.
 */
import { Agent, type Dispatcher } from 'undici';
import type { FormData } from 'undici';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError } from '../errors.js';
import type { UpstreamCall } from '../providers/types.js';
import type { ClientGone } from './client-gone.js';

export interface UpstreamOptions {
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  maxRetries: number;
  /** Longest `retry-after` worth waiting for inside one client request. */
  maxRetryAfterMs?: number;
  random?: () => number;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

const RETRYABLE_STATUS = new Set([408, 409, 429, 500, 502, 503, 504, 529]);
const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_CLOSED']);
const BASE_DELAY_MS = 200;
const MAX_DELAY_MS = 4000;

export class UpstreamClient {
  private readonly agent: Agent;
  private readonly random: () => number;
  private readonly maxRetryAfterMs: number;

  constructor(private readonly opts: UpstreamOptions) {
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connections: 512,
      connect: { timeout: opts.connectTimeoutMs },
      headersTimeout: opts.firstByteTimeoutMs,
      bodyTimeout: opts.idleTimeoutMs,
    });
    this.random = opts.random ?? Math.random;
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? 10_000;
  }

  /**
   * Send a call, retrying what is safe to retry. Resolves with the last response whatever its
   * status (the caller maps provider errors); rejects with ApiError upstream_error/upstream_timeout
   * when the provider could not be reached, or with the abort reason when the client went away.
   */
  async send(provider: string, call: UpstreamCall, opts: { signal: ClientGone; form?: FormData }): Promise<UpstreamResponse> {
    for (let attempt = 0; ; attempt++) {
      let res: Dispatcher.ResponseData;
      try {
        const { origin, path } = splitUrl(call.url);
        res = await this.agent.request({
          origin,
          path,
          method: call.method as Dispatcher.HttpMethod,
          headers: call.headers,
          body: (opts.form ?? call.body) as Dispatcher.RequestOptions['body'],
          signal: opts.signal,
        });
      } catch (err) {
        if (opts.signal.aborted) throw err;
        const code = (err as { code?: string }).code ?? '';
        if (CONNECTION_ERRORS.has(code) && attempt < this.opts.maxRetries) {
          await sleep(this.backoff(attempt), undefined, { signal: opts.signal.signal });
          continue;
        }
        throw classify(provider, err);
      }
      if (!RETRYABLE_STATUS.has(res.statusCode) || attempt >= this.opts.maxRetries) {
        return { status: res.statusCode, headers: res.headers, body: res.body };
      }
      const wait = retryAfterMs(res.headers['retry-after']) ?? this.backoff(attempt);
      if (wait > this.maxRetryAfterMs) return { status: res.statusCode, headers: res.headers, body: res.body };
      await res.body.dump().catch(() => {});
      await sleep(wait, undefined, { signal: opts.signal.signal });
    }
  }

  /** Full jitter: uniformly random up to the capped exponential step. */
  private backoff(attempt: number): number {
    return Math.round(this.random() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt));
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** A provider's URLs repeat (one per model and operation): parse each once. Bounded. */
const parsedUrls = new Map<string, { origin: string; path: string }>();

export function splitUrl(url: string): { origin: string; path: string } {
  let hit = parsedUrls.get(url);
  if (!hit) {
    const u = new URL(url);
    hit = { origin: u.origin, path: `${u.pathname}${u.search}` };
    if (parsedUrls.size >= 1024) parsedUrls.clear();
    parsedUrls.set(url, hit);
  }
  return hit;
}

function retryAfterMs(v: string | string[] | undefined): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  const secs = Number(s);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const at = Date.parse(s);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/** A transport failure as the client should see it. Never includes URLs (they may carry keys). */
export function classify(provider: string, err: unknown): ApiError {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    const what = code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connecting' : code === 'UND_ERR_BODY_TIMEOUT' ? 'waiting for the next part of the response' : 'waiting for a response';
    return new ApiError('upstream_timeout', `${provider}: timed out ${what}`);
  }
  if (err instanceof ApiError) return err;
  return new ApiError('upstream_error', `${provider}: the provider could not be reached or closed the connection (${code || 'network error'})`);
}
