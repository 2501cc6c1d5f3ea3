/**
 * Puts a Fastify gateway handler (transcription) behind the limiter, as the fast path does for
 * chat and embeddings: admit first (429 before any work), send the
 * `x-ratelimit-*` headers on whatever the handler answers (errors included), and make sure the
 * admission ends even when the handler failed before its Meter existed (a bad body). When the
 * Meter did report the request, its event already settled the admission and `finish(null)` is a no-op.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Admission } from '../limits/admission.js';
import type { Limiter } from '../limits/limiter.js';

export type LimitedHandler = (request: FastifyRequest, reply: FastifyReply, admission: Admission) => Promise<unknown>;

export function limited(limiter: Limiter, handler: LimitedHandler) {
  return async function limitedHandler(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const admission = await limiter.admit(request.auth.key!);
    reply.headers(admission.headers);
    try {
      return await handler(request, reply, admission);
    } finally {
      admission.finish(null);
    }
  };
}
