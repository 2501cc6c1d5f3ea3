/**
 * The OpenAI-compatible gateway routes, each behind its permission, under /api/v1 and /v1.
 * Chat completions and embeddings are served by the fast path (fast-path.ts) straight from
 * node:http; transcription (multipart) and the models list are Fastify routes.
 */
import type { FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import type { GatewayDeps } from './context.js';
import { chatHandler } from './chat.js';
import { embeddingsHandler } from './embeddings.js';
import { transcriptionHandler } from './audio.js';
import { modelsHandlers } from './models.js';
import { limited } from './limited.js';
import type { FastPathRoute } from './fast-path.js';

export const GATEWAY_PREFIXES = ['/api/v1', '/v1'] as const;

/** The routes the fast path serves, by path under each prefix. */
export function fastPathRoutes(deps: GatewayDeps): Record<string, FastPathRoute> {
  return {
    '/chat/completions': { permission: 'chat', handler: chatHandler(deps) },
    '/embeddings': { permission: 'embeddings', handler: embeddingsHandler(deps) },
  };
}

/** The gateway's Fastify routes, registered under one prefix. */
export async function gatewayRoutes(app: FastifyInstance, deps: GatewayDeps): Promise<void> {
  await app.register(multipart, { throwFileSizeLimit: true });
  app.post('/audio/transcriptions', { config: { permission: 'audio' } }, limited(deps.limiter, transcriptionHandler(deps)));
  const models = modelsHandlers(deps);
  app.get('/models', { config: { permission: 'models:read' } }, models.list);
  app.get('/models/*', { config: { permission: 'models:read' } }, models.get);
}
