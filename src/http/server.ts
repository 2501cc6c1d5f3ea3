/**
 * The Fastify instance with Backbone's HTTP conventions: one error envelope for everything
 * (validation, unknown routes, bodies too large, malformed headers), redacted structured logs,
 * and no per-request log line on the hot path.
 */
import Fastify, { LogController, type FastifyReply, type FastifyRequest, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { trustFunction } from './client-ip.js';
import { errorEnvelope } from '../errors.js';
import { errorResponse } from './error-response.js';
import { LazyChildLogger } from '../logger.js';

export interface HttpServerOptions {
  logger: FastifyServerOptions['loggerInstance'];
  trustProxy: boolean | number | string;
  bodyLimit?: number;
  /** Consulted before the JSON 404: answers a request itself (the dashboard's SPA fallback) by returning true. */
  notFoundFallback?: NotFoundFallback;
  /** Sees every request before Fastify and answers the ones it takes (the gateway's hot routes). */
  fastPath?: FastPath;
}

export interface FastPath {
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

const CLOSING_BODY = JSON.stringify(errorEnvelope('service_unavailable', 'The server is shutting down; try again'));

/** Set `handle` after the routes are registered; it answers a request itself by returning true. */
export interface NotFoundFallback { handle?: (request: FastifyRequest, reply: FastifyReply) => boolean }

const envelope = errorEnvelope;

export function createHttpServer(opts: HttpServerOptions): FastifyInstance {
  let closing = false;
  const app = Fastify({
    loggerInstance: opts.logger,
    // No log line per request on the hot path; errors and auth refusals are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    // The per-request child logger is made only if the request logs something.
    childLoggerFactory: (logger, bindings, options) => new LazyChildLogger(logger as never, bindings, options) as unknown as typeof logger,
    // A trust function (http/client-ip.ts), so Fastify and the fast path see the same client address.
    trustProxy: trustFunction(opts.trustProxy),
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    routerOptions: { maxParamLength: 200 },
    // The node:http server: once closing, every request gets the envelope's 503 (Fastify's own
    // 503 has another body); then the fast path; then Fastify. Fastify's server settings kept
    // (keep-alive 72 s, no request or connection timeout).
    serverFactory: (handler, fastifyOptions) => {
      const options = fastifyOptions as { keepAliveTimeout?: number; requestTimeout?: number; connectionTimeout?: number };
      const server = createServer((req, res) => {
        if (closing) {
          res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(CLOSING_BODY), connection: 'close' });
          res.end(CLOSING_BODY);
        } else if (!opts.fastPath?.handle(req, res)) {
          handler(req, res);
        }
      });
      server.keepAliveTimeout = options.keepAliveTimeout ?? 72_000;
      server.requestTimeout = options.requestTimeout ?? 0;
      server.setTimeout(options.connectionTimeout ?? 0);
      return server;
    },
    // Router-level failures (bad URL encoding, an over-long path parameter) use the envelope too.
    frameworkErrors: (err, _request, reply: FastifyReply) => {
      reply.code(400).send(envelope('invalid_request', err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path parameter is too long' : 'Malformed URL', null));
    },
    // Node answers an oversized or malformed request head before Fastify sees it; still use the envelope.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => {
      if (!socket.writable) return;
      const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
      const status = tooLarge ? 431 : 400;
      const body = JSON.stringify(envelope(tooLarge ? 'request_too_large' : 'invalid_request', tooLarge ? 'Request headers are too large' : 'Malformed HTTP request', null));
      socket.end(`HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
  });

  app.addHook('preClose', (done) => { closing = true; done(); });

  app.setErrorHandler((err: Error, request, reply) => {
    const r = errorResponse(err, request.log);
    reply.code(r.status).headers(r.headers).send(r.body);
  });

  app.setNotFoundHandler((request, reply) => {
    if (opts.notFoundFallback?.handle?.(request, reply)) return;
    reply.code(404).send(envelope('not_found', `Unknown route: ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`));
  });

  return app;
}
