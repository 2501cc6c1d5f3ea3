/**
 * The gateway's hot routes (`POST /chat/completions` and `POST /embeddings`, under `/api/v1` and
 * `/v1`), served straight from node:http ahead of Fastify: every other route, including the
 * gateway's audio and models routes, goes to Fastify unchanged.
 *
 * These two routes are nearly all of a gateway's traffic. Fastify's routing, hooks, request and
 * reply objects and serializer were the largest item of Backbone's own CPU per proxied call left in
 * the gateway benchmark's profile (8 % self time, more with the promise plumbing around them;
 * `BENCH_GATEWAY_PROFILE=1 npm run bench -- gateway`). This path keeps what they provided, with the
 * same modules Fastify's side uses, so both answer alike:
 *  - authentication, the brute-force guard and the route's permission (http/auth.ts), before any
 *    of the body is read;
 *  - the client address with the configured proxy trust (http/client-ip.ts);
 *  - the JSON body with Fastify's rules: media type, size limit, empty body (http/read-json.ts);
 *  - admission by the limiter, its `x-ratelimit-*` headers on every answer, errors included;
 *  - errors in the one envelope (http/error-response.ts), counted by `onError` (metrics).
 * (Once the server is closing, http/server.ts answers every request with 503 before this path.)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import { authenticateKey, checkNotBlocked, type KeyAuthDeps } from '../http/auth.js';
import { clientIp, type TrustFunction } from '../http/client-ip.js';
import { errorResponse } from '../http/error-response.js';
import { BodyAborted, readJsonBody } from '../http/read-json.js';
import type { Permission } from '../keys/permissions.js';
import type { Admission } from '../limits/admission.js';
import type { Limiter } from '../limits/limiter.js';
import type { GatewayHandler } from './context.js';
import { ClientClosed } from './client-gone.js';

export interface FastPathRoute {
  permission: Permission;
  handler: GatewayHandler;
}

export interface FastPathOptions {
  auth: KeyAuthDeps;
  limiter: Limiter;
  trust: TrustFunction;
  log: FastifyBaseLogger;
  maxBodyBytes: number;
  /** Sees every error answered (the metrics count limit refusals). */
  onError?: (err: Error) => void;
}

const JSON_TYPE = 'application/json; charset=utf-8';

export class GatewayFastPath {
  private readonly routes = new Map<string, FastPathRoute>();

  constructor(private readonly opts: FastPathOptions, prefixes: readonly string[], routes: Record<string, FastPathRoute>) {
    for (const prefix of prefixes) for (const [path, route] of Object.entries(routes)) this.routes.set(prefix + path, route);
  }

  /** Takes the request when it is one of these routes (and answers it); false leaves it to Fastify. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'POST') return false;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const route = this.routes.get(q < 0 ? url : url.slice(0, q));
    if (!route) return false;
    void this.serve(route, req, res);
    return true;
  }

  private async serve(route: FastPathRoute, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { opts } = this;
    let admission: Admission | undefined;
    try {
      const ip = clientIp(req, opts.trust);
      checkNotBlocked(opts.auth.failures, ip);
      const { key } = await authenticateKey(opts.auth, req.headers, ip, route.permission, opts.log);
      const body = await readJsonBody(req, opts.maxBodyBytes);
      admission = await opts.limiter.admit(key!);
      const answer = await route.handler({ body, key: key!, raw: res, admission });
      if (answer) {
        try {
          sendJson(res, 200, Object.assign({}, admission.headers, answer.headers), answer.body);
        } finally {
          answer.sent?.();
        }
      }
    } catch (err) {
      this.fail(res, err as Error, admission);
    } finally {
      admission?.finish(null);
    }
  }

  private fail(res: ServerResponse, err: Error, admission: Admission | undefined): void {
    if (err instanceof BodyAborted || err instanceof ClientClosed) return; // nobody to answer
    if (res.headersSent) {
      // Only a failure while writing lands here (a stream reports its own failures in-band).
      if (!res.writableEnded) res.destroy();
      return;
    }
    this.opts.onError?.(err);
    const r = errorResponse(err, this.opts.log);
    sendJson(res, r.status, Object.assign({}, admission?.headers, r.headers), r.body);
  }
}

/** One write of head and body; nothing if the client already went away. */
function sendJson(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown): void {
  if (res.destroyed) return;
  const payload = JSON.stringify(body);
  headers['content-type'] = JSON_TYPE;
  headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(status, headers);
  res.end(payload);
}
