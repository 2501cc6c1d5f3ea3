/**
 * The dashboard (a single-page app built by Vite into `dist/web`), served at `/`. Built files are
 * registered as routes one by one (no catch-all), so `/api/*`, `/v1/*`, `/healthz`, `/readyz` and
 * `/metrics` are never shadowed; any other GET that accepts HTML falls back to `index.html` for
 * the app's own client-side routes. Unknown `/api/...` paths still get the JSON 404 envelope.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';

/** `dist/web` at the package root, whether running from `dist/` (npm start) or `src/` (tsx, tests). */
export const DEFAULT_WEB_DIR = join(fileURLToPath(new URL('../..', import.meta.url)), 'dist', 'web');

const NOT_THE_APP = /^\/(?:api|v1)(?:\/|$)|^\/(?:healthz|readyz|metrics)(?:\/|$|\?)/;

/** Registers the built dashboard; returns the SPA fallback for the not-found handler (or undefined when not built). */
export async function webRoutes(app: FastifyInstance, dir = DEFAULT_WEB_DIR): Promise<((request: FastifyRequest, reply: FastifyReply) => boolean) | undefined> {
  if (!existsSync(join(dir, 'index.html'))) {
    app.log.warn({ dir }, 'the dashboard is not built (run npm run build); serving the API only');
    return undefined;
  }
  await app.register(fastifyStatic, {
    root: dir,
    wildcard: false,
    cacheControl: false, // set below, per file
    index: ['index.html'],
    // Hashed asset names: cache for a long time; index.html must always be fresh.
    setHeaders(res, path) {
      res.setHeader('cache-control', path.includes(`${join('web', 'assets')}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('x-frame-options', 'DENY');
      res.setHeader('referrer-policy', 'same-origin');
    },
  });
  return (request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false;
    if (NOT_THE_APP.test(request.url)) return false;
    if (!(request.headers.accept ?? '').includes('text/html')) return false;
    reply.header('cache-control', 'no-cache').header('x-frame-options', 'DENY');
    void reply.sendFile('index.html');
    return true;
  };
}
