/**
 * `GET /healthz` (the process is alive) and `GET /readyz` (the store answers; usage rows waiting
 * and dropped; with scale-out, where limits are counted, the invalidation channel and, during a
 * store outage, how long verified keys keep working). Redis being away does not make an instance
 * unready: requests keep flowing with limits per instance, and `checks.limits.mode` says so.
 */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../store/db.js';

/** Usage rows waiting for the store, and rows lost so far (never silently). */
export type UsageQueueCheck = () => { queued: number; dropped: number };

export interface ReadinessDetail {
  /** Ping the store (and record the result); true when it answered. */
  checkStore?(): Promise<boolean>;
  /** The store outage detail, shown while it is unreachable. */
  storeState?(): object;
  /** More named checks (limits, invalidation), shown as they are. */
  checks?(): Record<string, unknown>;
}

export function healthRoutes(app: FastifyInstance, db: Db, usageQueue: UsageQueueCheck = () => ({ queued: 0, dropped: 0 }), detail: ReadinessDetail = {}): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    const { queued, dropped } = usageQueue();
    const usage_queue = { queued, dropped };
    const more = detail.checks?.() ?? {};
    let ok: boolean;
    let message: string | undefined;
    if (detail.checkStore) ok = await detail.checkStore();
    else {
      try {
        await db.ping();
        ok = true;
      } catch (err) {
        ok = false;
        message = (err as Error).message;
      }
    }
    if (ok) return { status: 'ready', checks: { store: 'ok', usage_queue, ...more } };
    request.log.warn({ err: message }, 'readiness check failed');
    reply.code(503);
    return {
      status: 'unavailable',
      checks: { store: 'unreachable', store_outage: detail.storeState?.(), usage_queue, ...more },
      error: { message: 'The store is unreachable', type: 'api_error', code: 'service_unavailable' },
    };
  });
}
