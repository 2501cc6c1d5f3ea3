/**
 * What the client gets for any error, in the one envelope: an ApiError as it is, Fastify's own
 * 4xx (malformed JSON, bodies too large, wrong media type) translated, a store outage as 503, and
 * anything else as a logged 500 that reveals nothing. Used by Fastify's error handler and by the
 * gateway's fast path, so both answer alike.
 */
import type { FastifyBaseLogger } from 'fastify';
import { ApiError, errorEnvelope, type ErrorEnvelope } from '../errors.js';
import { isStoreUnreachable } from '../store/db.js';
import { ClientClosed } from '../gateway/client-gone.js';

export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: ErrorEnvelope;
}

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

export function errorResponse(err: Error & { statusCode?: number; code?: string }, log: FastifyBaseLogger): ErrorResponse {
  if (err instanceof ApiError) {
    if (err.status >= 500) log.error({ code: err.code, msg: err.message }, 'request failed');
    return { status: err.status, headers: err.headers, body: err.toJSON() };
  }
  if (err instanceof ClientClosed) {
    // Nobody is left to read it; nothing failed on this side.
    return { status: 499, headers: NO_HEADERS, body: errorEnvelope('client_closed_request', err.message, null) };
  }
  const status = err.statusCode ?? 500;
  if (status === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return { status: 413, headers: NO_HEADERS, body: errorEnvelope('request_too_large', 'The request body is too large') };
  }
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || status === 415) {
    return { status: 415, headers: NO_HEADERS, body: errorEnvelope('invalid_request', 'Unsupported Content-Type; send application/json', null) };
  }
  if (status >= 400 && status < 500) {
    // Fastify's own 4xx: malformed JSON, empty JSON body, bad URL encoding, ...
    const message = err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError
      ? 'The request body is not valid JSON'
      : err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'The request body is empty but Content-Type is application/json' : 'Invalid request';
    return { status: 400, headers: NO_HEADERS, body: errorEnvelope('invalid_request', message, null) };
  }
  if (isStoreUnreachable(err)) {
    // A store outage is not an internal error: the client may retry shortly.
    log.warn({ err: err.message }, 'store unreachable');
    return { status: 503, headers: NO_HEADERS, body: errorEnvelope('service_unavailable', 'The store is unavailable; try again shortly') };
  }
  log.error({ err: { type: err.name, message: err.message, stack: err.stack } }, 'unhandled error');
  return { status: 500, headers: NO_HEADERS, body: errorEnvelope('internal_error', 'Internal server error') };
}
