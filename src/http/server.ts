/**
 * The Fastify instance with Backbone's HTTP conventions: one error envelope for everything
 * (validation, unknown routes, bodies too large, malformed headers), redacted structured logs,
 * and no per-request log line on the hot path.
 */
import Fastify, { LogController, type FastifyReply, type FastifyRequest, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Socket } from 'node:net';
import { ApiError, errorEnvelope } from '../errors.js';
import { LazyChildLogger } from '../logger.js';
import { isStoreUnreachable } from '../store/db.js';

export interface HttpServerOptions {
  logger: FastifyServerOptions['loggerInstance'];
  trustProxy: boolean | number | string;
  bodyLimit?: number;
  /** Consulted before the JSON 404: answers a request itself (the dashboard's SPA fallback) by returning true. */
  notFoundFallback?: NotFoundFallback;
}

/** Set `handle` after the routes are registered; it answers a request itself by returning true. */
export interface NotFoundFallback { handle?: (request: FastifyRequest, reply: FastifyReply) => boolean }

const envelope = errorEnvelope;

export function createHttpServer(opts: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger,
    // No log line per request on the hot path; errors and auth refusals are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    // The per-request child logger is made only if the request logs something.
    childLoggerFactory: (logger, bindings, options) => new LazyChildLogger(logger as never, bindings, options) as unknown as typeof logger,
    // Fastify accepts a hop count at run time although its types omit it.
    trustProxy: opts.trustProxy as boolean | string,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    routerOptions: { maxParamLength: 200 },
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

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown }, request, reply) => {
    if (err instanceof ApiError) {
      if (err.status >= 500) request.log.error({ code: err.code, msg: err.message }, 'request failed');
      reply.code(err.status).headers(err.headers).send(err.toJSON());
      return;
    }
    const status = err.statusCode ?? 500;
    if (status === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      reply.code(413).send(envelope('request_too_large', 'The request body is too large'));
    } else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || status === 415) {
      reply.code(415).send(envelope('invalid_request', 'Unsupported Content-Type; send application/json', null));
    } else if (status >= 400 && status < 500) {
      // Fastify's own 4xx: malformed JSON, empty JSON body, bad URL encoding, ...
      const message = err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError
        ? 'The request body is not valid JSON'
        : err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'The request body is empty but Content-Type is application/json' : 'Invalid request';
      reply.code(400).send(envelope('invalid_request', message, null));
    } else if (isStoreUnreachable(err)) {
      // A store outage is not an internal error: the client may retry shortly.
      request.log.warn({ err: err.message }, 'store unreachable');
      reply.code(503).send(envelope('service_unavailable', 'The store is unavailable; try again shortly'));
    } else {
      request.log.error({ err: { type: err.name, message: err.message, stack: err.stack } }, 'unhandled error');
      reply.code(500).send(envelope('internal_error', 'Internal server error'));
    }
  });

  app.setNotFoundHandler((request, reply) => {
    if (opts.notFoundFallback?.handle?.(request, reply)) return;
    reply.code(404).send(envelope('not_found', `Unknown route: ${request.method} ${request.url.split('?')[0]!.slice(0, 200)}`));
  });

  return app;
}
