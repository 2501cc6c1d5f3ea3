/** `GET /healthz` (the process is alive) and `GET /readyz` (the store answers; usage rows waiting and dropped). */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../store/db.js';

/** Usage rows waiting for the store, and rows lost so far (never silently). */
export type UsageQueueCheck = () => { queued: number; dropped: number };

export function healthRoutes(app: FastifyInstance, db: Db, usageQueue: UsageQueueCheck = () => ({ queued: 0, dropped: 0 })): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    const { queued, dropped } = usageQueue();
    const usage_queue = { queued, dropped };
    try {
      await db.ping();
      return { status: 'ready', checks: { store: 'ok', usage_queue } };
    } catch (err) {
      request.log.warn({ err: (err as Error).message }, 'readiness check failed');
      reply.code(503);
      return { status: 'unavailable', checks: { store: 'unreachable', usage_queue }, error: { message: 'The store is unreachable', type: 'api_error', code: 'service_unavailable' } };
    }
  });
}
