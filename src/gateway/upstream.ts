/**
 * The upstream HTTP client: one undici Agent (pooled keep-alive connections per origin) for all
 * providers, connect / first-byte / idle timeouts, and retries with capped, jittered back-off that
 * honours `retry-after` — only before anything reached the client, and only on connection
 * errors, 408, 409, 429 and 5xx.
 */
import { Agent, util as undiciUtil, type Dispatcher } from 'undici';
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

/** Receives a streamed body chunk by chunk; `data` returns false to have the upstream paused until `resume()`. */
export interface BodySink {
  data(chunk: Buffer): boolean;
  end(): void;
  error(err: Error): void;
}

/** A response body: streamed as it arrives or, for calls that are not streamed, already read. */
export interface UpstreamBody {
  json(): Promise<unknown>;
  text(): Promise<string>;
  /** Read to the end and discard (so the connection can carry the next request). */
  dump(): Promise<void>;
  /** Stop reading: the upstream request is cancelled if it has not ended. */
  destroy(): void;
  /** Hand every chunk to `sink` as it arrives, then its end or failure. A body is read once. */
  pipe(sink: BodySink): void;
  /** Continue after `sink.data` returned false. */
  resume(): void;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: UpstreamBody;
}

/** A body read to its end by `send(..., { buffered: true })`. */
class BufferedBody implements UpstreamBody {
  constructor(private readonly buf: Buffer) {}
  async json(): Promise<unknown> { return JSON.parse(this.buf.toString('utf8')); }
  async text(): Promise<string> { return this.buf.toString('utf8'); }
  async dump(): Promise<void> {}
  destroy(): void {}
  pipe(sink: BodySink): void {
    sink.data(this.buf);
    sink.end();
  }
  resume(): void {}
}

/** Chunks held for a body nobody reads yet; past this many the upstream is paused until a reader comes. */
const MAX_WAITING = 64;

/**
 * A streamed body fed straight by undici's dispatch handler: each chunk goes to the sink in the
 * same call that parsed it. (undici's `request()` would wrap it in a Readable, read here through an
 * async iterator: a few promises and stream ticks per chunk, for every chunk of every stream.)
 * Chunks that arrive before a sink is attached wait in a list.
 */
class StreamedBody implements UpstreamBody {
  private sink: BodySink | undefined;
  private waiting: Buffer[] = [];
  private ended: { err: Error | null } | undefined;
  private paused = false;
  private destroyed = false;
  /** Set by the dispatch handler. */
  resumeUpstream: (() => void) | undefined;
  abortUpstream: ((err: Error) => void) | undefined;

  /** From the handler: a chunk; false pauses the upstream. */
  push(chunk: Buffer): boolean {
    if (this.destroyed) return true; // being aborted
    if (!this.sink) {
      this.waiting.push(chunk);
      if (this.waiting.length < MAX_WAITING) return true;
      this.paused = true; // nobody reads yet: hold the upstream until someone does
      return false;
    }
    if (!this.sink.data(chunk)) this.paused = true;
    return !this.paused;
  }

  /** From the handler: the end, or the failure, of the body. */
  close(err: Error | null): void {
    if (this.destroyed || this.ended) return;
    this.ended = { err };
    const sink = this.sink;
    if (!sink) return;
    if (err) sink.error(err);
    else sink.end();
  }

  pipe(sink: BodySink): void {
    if (this.sink || this.destroyed) throw new Error('an upstream body can be read only once');
    this.sink = sink;
    const waiting = this.waiting;
    this.waiting = [];
    const heldBack = this.paused;
    let full = false;
    for (const chunk of waiting) {
      if (this.destroyed) return;
      if (!sink.data(chunk)) full = true;
    }
    if (full) {
      this.paused = true; // the reader's drain resumes it
    } else if (heldBack) {
      // paused for want of a reader: go on now
      this.paused = false;
      if (!this.ended) this.resumeUpstream?.();
    }
    if (this.ended && !this.destroyed) {
      if (this.ended.err) sink.error(this.ended.err);
      else sink.end();
    }
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.resumeUpstream?.();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.sink = undefined;
    this.waiting = [];
    if (!this.ended) this.abortUpstream?.(new Error('the response body was abandoned'));
  }

  private collect(): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      this.pipe({ data: (c) => { chunks.push(c); return true; }, end: () => resolve(Buffer.concat(chunks)), error: reject });
    });
  }

  async json(): Promise<unknown> { return JSON.parse((await this.collect()).toString('utf8')); }
  async text(): Promise<string> { return (await this.collect()).toString('utf8'); }
  async dump(): Promise<void> { await this.collect().catch(() => {}); }
}

type RawHeaders = Buffer[] | string[] | null;

/** Response headers as an object, parsed only if someone reads them (a 2xx answer rarely needs them). */
class DispatchedResponse implements UpstreamResponse {
  private parsed: Record<string, string | string[] | undefined> | undefined;
  constructor(readonly status: number, private readonly raw: RawHeaders, readonly body: UpstreamBody) {}
  get headers(): Record<string, string | string[] | undefined> {
    return (this.parsed ??= (this.raw ? undiciUtil.parseHeaders(this.raw as Buffer[]) : {}) as Record<string, string | string[] | undefined>);
  }
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
  async send(provider: string, call: UpstreamCall, opts: { signal: ClientGone; form?: FormData; buffered?: boolean }): Promise<UpstreamResponse> {
    for (let attempt = 0; ; attempt++) {
      let res: UpstreamResponse;
      try {
        const { origin, path } = splitUrl(call.url);
        const request: Dispatcher.DispatchOptions = {
          origin,
          path,
          method: call.method as Dispatcher.HttpMethod,
          headers: call.headers,
          body: (opts.form ?? call.body) as Dispatcher.DispatchOptions['body'],
        };
        if (opts.buffered) {
          res = await this.readWhole(request, opts.signal);
        } else {
          res = await this.openStream(request, opts.signal);
        }
      } catch (err) {
        if (opts.signal.aborted) throw opts.signal.reason ?? err;
        const code = (err as { code?: string }).code ?? '';
        if (CONNECTION_ERRORS.has(code) && attempt < this.opts.maxRetries) {
          await backOff(this.backoff(attempt), opts.signal);
          continue;
        }
        throw classify(provider, err);
      }
      if (!RETRYABLE_STATUS.has(res.status) || attempt >= this.opts.maxRetries) return res;
      const wait = retryAfterMs(res.headers['retry-after']) ?? this.backoff(attempt);
      if (wait > this.maxRetryAfterMs) return res;
      await res.body.dump().catch(() => {});
      await backOff(wait, opts.signal);
    }
  }

  /**
   * One call whose answer is read whole (nothing is streamed to the client): undici's dispatch with
   * a plain handler collecting the chunks, instead of `request()`'s async resource, Readable body
   * and abort-signal plumbing for every call. Timeouts are undici's (headers, body); the client
   * going away aborts the call.
   */
  private readWhole(request: Dispatcher.DispatchOptions, gone: ClientGone): Promise<UpstreamResponse> {
    return new Promise<UpstreamResponse>((resolve, reject) => {
      let status = 0;
      let raw: RawHeaders = null;
      const chunks: Buffer[] = [];
      let abort: ((reason?: Error) => void) | undefined;
      const onGone = () => abort?.(gone.reason);
      gone.once('abort', onGone);
      const handler: Dispatcher.DispatchHandler = {
        onConnect(abortFn) {
          if (gone.aborted) abortFn(gone.reason);
          else abort = abortFn;
        },
        onHeaders(statusCode, headers) {
          status = statusCode;
          raw = headers as RawHeaders;
          return true;
        },
        onData(chunk) {
          chunks.push(chunk);
          return true;
        },
        onComplete() {
          gone.removeListener('abort', onGone);
          resolve(new DispatchedResponse(status, raw, new BufferedBody(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))));
        },
        onError(err) {
          gone.removeListener('abort', onGone);
          reject(err);
        },
      };
      this.agent.dispatch(request, handler);
    });
  }

  /**
   * One call whose answer is streamed to the client: resolves at the response head with a body that
   * hands each chunk on as it arrives (StreamedBody), paused and resumed with the client's
   * backpressure. Timeouts are undici's (headers, then idle between chunks); the client going away
   * aborts the call, before or after the head.
   */
  private openStream(request: Dispatcher.DispatchOptions, gone: ClientGone): Promise<UpstreamResponse> {
    return new Promise<UpstreamResponse>((resolve, reject) => {
      const body = new StreamedBody();
      let answered = false;
      const onGone = () => body.abortUpstream?.(gone.reason ?? new Error('client closed the connection'));
      gone.once('abort', onGone);
      const handler: Dispatcher.DispatchHandler = {
        onConnect(abortFn) {
          if (gone.aborted) abortFn(gone.reason);
          else body.abortUpstream = abortFn;
        },
        onHeaders(statusCode, headers, resume) {
          if (statusCode < 200) return true; // 1xx: the real answer follows
          body.resumeUpstream = resume;
          answered = true;
          resolve(new DispatchedResponse(statusCode, headers as RawHeaders, body));
          return true;
        },
        onData(chunk) {
          return body.push(chunk);
        },
        onComplete() {
          gone.removeListener('abort', onGone);
          body.close(null);
        },
        onError(err) {
          gone.removeListener('abort', onGone);
          if (answered) body.close(err);
          else reject(err);
        },
      };
      this.agent.dispatch(request, handler);
    });
  }

  /** Full jitter: uniformly random up to the capped exponential step. */
  private backoff(attempt: number): number {
    return Math.round(this.random() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt));
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** Wait before a retry; a client that goes away meanwhile ends the wait with its own reason. */
async function backOff(ms: number, gone: ClientGone): Promise<void> {
  try {
    await sleep(ms, undefined, { signal: gone.signal });
  } catch (err) {
    throw gone.reason ?? err;
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
