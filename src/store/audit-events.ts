import type { Kysely } from 'kysely';
import type { AuditEventsTable, Database } from './schema.js';
import { newId } from './ids.js';

/** Who did something: `key:<id>`, `user:<id>` or `cli`. */
export interface AuditEvent {
  id: string;
  orgId: string;
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  /** What changed; never a secret. */
  details: Record<string, unknown>;
  ip: string | null;
  createdAt: number;
}

export type NewAuditEvent = Omit<AuditEvent, 'id' | 'createdAt'> & { createdAt?: number };

const toEvent = (r: AuditEventsTable): AuditEvent => ({
  id: r.id, orgId: r.org_id, actor: r.actor, action: r.action, targetType: r.target_type, targetId: r.target_id,
  details: JSON.parse(r.details) as Record<string, unknown>, ip: r.ip, createdAt: r.created_at,
});

export const auditRow = (e: NewAuditEvent): AuditEventsTable => ({
  id: newId('evt'), org_id: e.orgId, actor: e.actor, action: e.action, target_type: e.targetType, target_id: e.targetId,
  details: JSON.stringify(e.details), ip: e.ip, created_at: e.createdAt ?? Date.now(),
});

export class AuditRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(e: NewAuditEvent): Promise<void> {
    await this.db.insertInto('audit_events').values(auditRow(e)).execute();
  }

  /** Newest first. `before` is a created_at cursor. */
  async list(orgId: string, opts: { limit: number; targetId?: string; before?: number; actor?: string }): Promise<AuditEvent[]> {
    let q = this.db.selectFrom('audit_events').selectAll().where('org_id', '=', orgId);
    if (opts.actor) q = q.where('actor', '=', opts.actor);
    if (opts.targetId) q = q.where('target_id', '=', opts.targetId);
    if (opts.before !== undefined) q = q.where('created_at', '<', opts.before);
    const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(opts.limit).execute();
    return rows.map(toEvent);
  }
}
