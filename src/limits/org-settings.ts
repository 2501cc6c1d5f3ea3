/**
 * Changing an organisation's plan and limits (the `orgs update` CLI today, an admin API later):
 * validated like key input, written with its audit event and change-feed row in one transaction,
 * so every running instance picks it up within one poll interval.
 */
import { invalidRequest, notFound } from '../errors.js';
import type { Organization, OrganizationRepository } from '../store/organizations.js';
import { checkBudget } from './input.js';
import { limitsJson, type Limits } from './types.js';

export interface OrgUpdate {
  plan?: string;
  limits?: Partial<Limits>;
}

/** The public JSON of an organisation. */
export function orgJson(o: Organization) {
  return { object: 'organization' as const, id: o.id, slug: o.slug, name: o.name, plan: o.plan, ...limitsJson(o.limits) };
}

export async function updateOrganization(
  orgs: OrganizationRepository,
  knownPlans: readonly string[],
  org: Organization,
  update: OrgUpdate,
  actor: { id: string; ip: string | null },
): Promise<Organization> {
  if (update.plan !== undefined && !knownPlans.includes(update.plan)) {
    throw invalidRequest(`Unknown plan '${update.plan.slice(0, 64)}'; the plans are ${knownPlans.join(', ')}`, 'plan');
  }
  const after: Limits = { ...org.limits, ...update.limits };
  checkBudget(after);
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  if (update.plan !== undefined && update.plan !== org.plan) changes.plan = { from: org.plan, to: update.plan };
  const [was, is] = [limitsJson(org.limits), limitsJson(after)];
  for (const label of Object.keys(is) as (keyof typeof is)[]) {
    if (was[label] !== is[label]) changes[label] = { from: was[label], to: is[label] };
  }
  if (Object.keys(changes).length === 0) return org;
  const updated = await orgs.update(org.id, update, {
    orgId: org.id, actor: actor.id, action: 'organization.updated', targetType: 'organization', targetId: org.id, details: { changes }, ip: actor.ip,
  });
  if (!updated) throw notFound('organisation');
  return updated;
}
