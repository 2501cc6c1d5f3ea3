/**
 * Dashboard sign-in: `GET|POST|DELETE /api/v1/session` (who am I / sign in / sign out),
 * `POST /api/v1/setup` (first run only), `POST /api/v1/me/password`, and switching organisation
 * (`POST /api/v1/session/organization`). The session token lives only in an httpOnly cookie;
 * responses carry the CSRF token the web app sends back in `x-csrf-token`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, invalidRequest } from '../../errors.js';
import { parseInput } from '../../keys/input.js';
import type { SessionService } from '../../users/sessions.js';
import type { UserService } from '../../users/service.js';
import type { User } from '../../store/users.js';
import { ROLE_PERMISSIONS } from '../../users/roles.js';
import { clearSessionCookie, readCookie, SESSION_COOKIE, setSessionCookie } from '../../users/cookies.js';
import { acceptInviteSchema, inviteTokenSchema, passwordSchema, setupSchema, signInSchema, switchOrgSchema } from '../../users/input.js';

export interface SessionRouteDeps { users: UserService; sessions: SessionService }

export function sessionRoutes(app: FastifyInstance, deps: SessionRouteDeps): void {
  const { users, sessions } = deps;

  /** The signed-in state the web app starts from. */
  async function sessionJson(user: User, orgId: string, token: string) {
    const orgs = await users.organizations(user.id);
    const current = orgs.find((o) => o.orgId === orgId);
    const role = current?.role ?? 'member';
    return {
      object: 'session' as const,
      signed_in: true,
      user: { id: user.id, email: user.email, name: user.name },
      organization: current ? { id: current.orgId, slug: current.slug, name: current.name, plan: current.plan } : null,
      role,
      permissions: ROLE_PERMISSIONS[role],
      organizations: orgs.map((o) => ({ id: o.orgId, slug: o.slug, name: o.name, role: o.role })),
      csrf_token: sessions.csrfToken(token),
    };
  }

  async function startSession(request: FastifyRequest, reply: FastifyReply, user: User, orgId: string) {
    const token = await sessions.create(user.id, orgId, request.ip);
    setSessionCookie(request, reply, token, sessions.ttlSeconds);
    reply.header('cache-control', 'no-store');
    return sessionJson(user, orgId, token);
  }

  app.get('/session', { config: { public: true } }, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const token = readCookie(request, SESSION_COOKIE);
    const s = token ? await sessions.resolve(token) : undefined;
    if (!s || !token) return { object: 'session', signed_in: false, setup_required: await users.setupRequired() };
    return sessionJson(s.user, s.orgId, token);
  });

  app.post('/session', { config: { public: true } }, async (request, reply) => {
    const b = parseInput(signInSchema, request.body);
    const { user, orgId } = await users.signIn(b.email, b.password, request.ip);
    request.log.info({ userId: user.id, ip: request.ip }, 'signed in');
    return startSession(request, reply, user, orgId);
  });

  // Sign-out needs the session (and so the CSRF token): a third-party page cannot sign anyone out.
  app.delete('/session', { config: { role: 'member' } }, async (request, reply) => {
    await sessions.destroy(request.auth.session!.tokenHash);
    clearSessionCookie(request, reply);
    return { object: 'session', signed_in: false };
  });

  app.post('/setup', { config: { public: true } }, async (request, reply) => {
    const b = parseInput(setupSchema, request.body);
    const { user, org } = await users.setup({ email: b.email, name: b.name, password: b.password, organizationName: b.organization_name }, request.ip);
    request.log.info({ userId: user.id, orgId: org.id }, 'first-run setup complete');
    reply.code(201);
    return startSession(request, reply, user, org.id);
  });

  app.post('/me/password', { config: { role: 'member' } }, async (request) => {
    const b = parseInput(passwordSchema, request.body);
    const s = request.auth.session!;
    await users.changePassword(s.user.id, b.current_password, b.new_password, request.ip);
    // Every other sign-in of this user ends; this one stays.
    await sessions.destroyOthers(s.user.id, s.tokenHash);
    return { object: 'password_change', changed: true };
  });

  app.post('/session/organization', { config: { role: 'member' } }, async (request) => {
    const b = parseInput(switchOrgSchema, request.body);
    const s = request.auth.session!;
    await users.requireMembership(s.user.id, b.organization_id);
    await sessions.setOrg(s.tokenHash, b.organization_id);
    return sessionJson(s.user, b.organization_id, s.token);
  });

  // Invite links: what the link is for (public), and accepting it as the signed-in user or with a new account.
  app.post('/invites/preview', { config: { public: true } }, async (request) => {
    const b = parseInput(inviteTokenSchema, request.body);
    const { invite, org } = await users.findInvite(b.token);
    return { object: 'invite_preview', organization: { name: org.name }, role: invite.role, email: invite.email, expires_at: new Date(invite.expiresAt).toISOString() };
  });

  app.post('/invites/accept', { config: { public: true } }, async (request, reply) => {
    const b = parseInput(acceptInviteSchema, request.body);
    const token = readCookie(request, SESSION_COOKIE);
    const current = token ? await sessions.resolve(token) : undefined;
    if (current && token) {
      // Signed in: the same CSRF rule as every other cookie-authenticated change.
      if (!sessions.checkCsrf(token, request.headers['x-csrf-token'])) {
        throw new ApiError('invalid_csrf_token', 'Missing or invalid CSRF token; send the x-csrf-token header from GET /api/v1/session');
      }
      const { orgId } = await users.acceptInvite(b.token, { userId: current.user.id }, request.ip);
      await sessions.setOrg(current.tokenHash, orgId);
      return sessionJson(current.user, orgId, token);
    }
    if (!b.email || !b.name || !b.password) {
      throw invalidRequest('To accept without signing in, give email, name and password for the new account', !b.email ? 'email' : !b.name ? 'name' : 'password');
    }
    const { user, orgId } = await users.acceptInvite(b.token, { email: b.email, name: b.name, password: b.password }, request.ip);
    reply.code(201);
    return startSession(request, reply, user, orgId);
  });
}
