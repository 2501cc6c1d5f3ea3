/** `GET /healthz` (the process is alive) and `GET /readyz` (the store answers). */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../store/db.js';

export function healthRoutes(app: FastifyInstance, db: Db): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    try {
      await db.ping();
      return { status: 'ready', checks: { store: 'ok' } };
    } catch (err) {
      request.log.warn({ err: (err as Error).message }, 'readiness check failed');
      reply.code(503);
      return { status: 'unavailable', checks: { store: 'unreachable' }, error: { message: 'The store is unreachable', type: 'api_error', code: 'service_unavailable' } };
    }
  });
}
