/** `GET /api/v1/audit-events`: who created, changed, rotated or revoked what, newest first. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AuditRepository } from '../../store/audit-events.js';
import { parseInput } from '../../keys/input.js';

const query = z.object({
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  target_id: z.string().max(64).optional(),
  before: z.iso.datetime().optional(),
}).strict();

export function auditRoutes(app: FastifyInstance, audit: AuditRepository): void {
  app.get('/audit-events', { config: { permission: 'keys:read' } }, async (request) => {
    const q = parseInput(query, request.query);
    const limit = q.limit ?? 100;
    // A dashboard member sees what they did themselves; admins and owners see the organisation's log.
    const actor = request.auth.session?.role === 'member' ? request.auth.actor.id : undefined;
    const rows = await audit.list(request.auth.orgId, { limit: limit + 1, targetId: q.target_id, before: q.before ? Date.parse(q.before) : undefined, actor });
    return {
      object: 'list',
      data: rows.slice(0, limit).map((e) => ({
        object: 'audit_event', id: e.id, actor: e.actor, action: e.action, target_type: e.targetType,
        target_id: e.targetId, details: e.details, ip: e.ip, created_at: new Date(e.createdAt).toISOString(),
      })),
      has_more: rows.length > limit,
    };
  });
}
