/** The OpenAI-compatible gateway routes, each behind its permission. Mounted under /api/v1 and /v1. */
import type { FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import type { GatewayDeps } from './context.js';
import { chatHandler } from './chat.js';
import { embeddingsHandler } from './embeddings.js';
import { transcriptionHandler } from './audio.js';
import { modelsHandlers } from './models.js';
import { limited } from './limited.js';

export async function gatewayRoutes(app: FastifyInstance, deps: GatewayDeps & { maxBodyBytes: number }): Promise<void> {
  await app.register(multipart, { throwFileSizeLimit: true });
  const bodyLimit = deps.maxBodyBytes;
  app.post('/chat/completions', { bodyLimit, config: { permission: 'chat' } }, limited(deps.limiter, chatHandler(deps)));
  app.post('/embeddings', { bodyLimit, config: { permission: 'embeddings' } }, limited(deps.limiter, embeddingsHandler(deps)));
  app.post('/audio/transcriptions', { config: { permission: 'audio' } }, limited(deps.limiter, transcriptionHandler(deps)));
  const models = modelsHandlers(deps);
  app.get('/models', { config: { permission: 'models:read' } }, models.list);
  app.get('/models/*', { config: { permission: 'models:read' } }, models.get);
}
