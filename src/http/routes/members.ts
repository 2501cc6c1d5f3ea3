/**
 * Organisations, members and invites for the dashboard (session only):
 * `GET|PATCH /api/v1/organization` (the current one; plan changes are the owner's),
 * `GET|POST /api/v1/organizations` (mine / a new one), `GET /api/v1/members`,
 * `PATCH|DELETE /api/v1/members/{user_id}` and `GET|POST|DELETE /api/v1/invites` (owners).
 */
import type { FastifyInstance } from 'fastify';
import { invalidRequest, notFound } from '../../errors.js';
import { parseInput } from '../../keys/input.js';
import type { UserService } from '../../users/service.js';
import type { OrganizationRepository } from '../../store/organizations.js';
import type { Invite } from '../../store/invites.js';
import type { Plan } from '../../limits/plans.js';
import { orgJson, updateOrganization } from '../../limits/org-settings.js';
import { createInviteSchema, createOrgSchema, roleSchema, updateOrgSchema } from '../../users/input.js';

export interface MemberRouteDeps { users: UserService; orgs: OrganizationRepository; plans: readonly Plan[] }

const iso = (ms: number) => new Date(ms).toISOString();
const idParam = (params: unknown): string => {
  const id = (params as { id: string }).id;
  if (id.length > 64) throw invalidRequest('Invalid id', 'id');
  return id;
};

const inviteJson = (i: Invite) => ({
  object: 'invite' as const, id: i.id, email: i.email, role: i.role, created_by: i.createdBy,
  created_at: iso(i.createdAt), expires_at: iso(i.expiresAt),
});

export function memberRoutes(app: FastifyInstance, deps: MemberRouteDeps): void {
  const { users, orgs, plans } = deps;
  const actorOf = (request: { auth: { session?: { user: { id: string } } }; ip: string }) => ({ userId: request.auth.session!.user.id, ip: request.ip });

  /** The current organisation, its plan and what the plan includes (a key can read it too). */
  app.get('/organization', async (request) => {
    const org = await orgs.byId(request.auth.orgId);
    if (!org) throw notFound('organization');
    const plan = plans.find((p) => p.name === org.plan);
    return {
      ...orgJson(org),
      byok_available: plan?.byok ?? false,
      monthly_platform_tokens: plan?.monthlyPlatformTokens ?? null,
      plans: plans.map((p) => ({ name: p.name, byok: p.byok, monthly_platform_tokens: p.monthlyPlatformTokens })),
    };
  });

  app.patch('/organization', { config: { role: 'owner' } }, async (request) => {
    const b = parseInput(updateOrgSchema, request.body);
    let org = await orgs.byId(request.auth.orgId);
    if (!org) throw notFound('organization');
    if (b.name !== undefined && b.name !== org.name) {
      org = (await orgs.rename(org.id, b.name, { orgId: org.id, actor: request.auth.actor.id, action: 'organization.renamed', targetType: 'organization', targetId: org.id, details: { from: org.name, to: b.name }, ip: request.ip })) ?? org;
    }
    if (b.plan !== undefined) org = await updateOrganization(orgs, plans.map((p) => p.name), org, { plan: b.plan }, request.auth.actor);
    return orgJson(org);
  });

  app.get('/organizations', { config: { role: 'member' } }, async (request) => {
    const list = await users.organizations(request.auth.session!.user.id);
    return { object: 'list', data: list.map((o) => ({ object: 'organization', id: o.orgId, slug: o.slug, name: o.name, plan: o.plan, role: o.role })), has_more: false };
  });

  app.post('/organizations', { config: { role: 'member' } }, async (request, reply) => {
    const b = parseInput(createOrgSchema, request.body);
    const org = await users.createOrganization(b.name, actorOf(request));
    reply.code(201);
    return { ...orgJson(org), role: 'owner' };
  });

  app.get('/members', { config: { role: 'member' } }, async (request) => {
    const list = await users.members(request.auth.orgId);
    return {
      object: 'list', has_more: false,
      data: list.map((m) => ({ object: 'member', id: m.id, email: m.email, name: m.name, role: m.role, joined_at: iso(m.joinedAt) })),
    };
  });

  app.patch('/members/:id', { config: { role: 'owner' } }, async (request) => {
    const b = parseInput(roleSchema, request.body);
    await users.setRole(request.auth.orgId, idParam(request.params), b.role, actorOf(request));
    return { object: 'member', id: idParam(request.params), role: b.role };
  });

  app.delete('/members/:id', { config: { role: 'owner' } }, async (request) => {
    await users.removeMember(request.auth.orgId, idParam(request.params), actorOf(request));
    return { object: 'member', id: idParam(request.params), deleted: true };
  });

  app.get('/invites', { config: { role: 'owner' } }, async (request) => {
    return { object: 'list', has_more: false, data: (await users.pendingInvites(request.auth.orgId)).map(inviteJson) };
  });

  app.post('/invites', { config: { role: 'owner' } }, async (request, reply) => {
    const b = parseInput(createInviteSchema, request.body);
    const { invite, token } = await users.createInvite(request.auth.orgId, { role: b.role, email: b.email ?? null }, actorOf(request));
    reply.code(201).header('cache-control', 'no-store');
    // The only response holding the token; the link is relative to wherever the dashboard is served.
    return { ...inviteJson(invite), token, path: `/invite#${token}` };
  });

  app.delete('/invites/:id', { config: { role: 'owner' } }, async (request) => {
    await users.deleteInvite(request.auth.orgId, idParam(request.params), actorOf(request));
    return { object: 'invite', id: idParam(request.params), deleted: true };
  });
}
