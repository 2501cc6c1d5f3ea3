/**
 * Bearer authentication for every `/api/v1` route (RFC 6750; `x-api-key` is accepted too), the
 * permission each route declares in `config.permission`, and the brute-force guard.
 * Runs in onRequest, before any body is read. The gateway's fast path (gateway/fast-path.ts) calls
 * `authenticateKey` itself.
 *
 * On the management routes (not the gateway) a request with no key but a dashboard session cookie
 * is authenticated as that user in the session's current organisation, with the permissions of
 * the user's role. The cookie work happens only when no key header is present, so the Bearer
 * path costs what it did. Cookie-authenticated state changes need the session's CSRF token in
 * `x-csrf-token`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyBaseLogger, FastifyRequest, onRequestHookHandler } from 'fastify';
import { ApiError } from '../errors.js';
import type { KeyService, Actor, VerifyFailure } from '../keys/service.js';
import type { FailureLimiter } from '../limits/auth-failures.js';
import type { Permission } from '../keys/permissions.js';
import type { ApiKey } from '../keys/types.js';
import type { Role, User } from '../store/users.js';
import type { SessionService } from '../users/sessions.js';
import { readCookie, SESSION_COOKIE } from '../users/cookies.js';
import { ROLE_PERMISSIONS, roleAtLeast } from '../users/roles.js';

/** The signed-in dashboard user behind a cookie-authenticated request. */
export interface SessionUser {
  user: User;
  role: Role;
  /** The session's stored identity (the keyed hash of its token). */
  tokenHash: string;
  /** The raw token, to derive the CSRF token; never logged or returned. */
  token: string;
}

export interface AuthContext {
  /** The API key, or null for a dashboard session. */
  key: ApiKey | null;
  orgId: string;
  actor: Actor;
  /** Set for a dashboard session (cookie), undefined for an API key. */
  session?: SessionUser;
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext;
  }
  interface FastifyContextConfig {
    /** The permission a key (or a session's role) needs for this route. */
    permission?: Permission;
    /** No authentication (sign-in, first-run setup, invite preview). */
    public?: boolean;
    /** Only a signed-in dashboard user with at least this role (keys are refused). */
    role?: Role;
  }
}

const MESSAGES: Record<VerifyFailure, string> = {
  missing_api_key: "Missing API key. Send it as 'Authorization: Bearer sk_...'",
  invalid_api_key: 'Invalid API key',
  key_revoked: 'This API key has been revoked',
  key_expired: 'This API key has expired',
  ip_not_allowed: 'This API key may not be used from this IP address',
};

/** RFC 6750: the scheme is case-insensitive; the token is everything after one or more spaces. */
export function extractKey(headers: IncomingHttpHeaders): string | undefined {
  const header = headers.authorization;
  if (header) {
    const m = /^bearer +(\S+) *$/i.exec(header.length > 4096 ? header.slice(0, 4096) : header);
    return m ? m[1] : header.length > 0 ? '\u0000' : undefined; // a non-Bearer scheme is an invalid key, not a missing one
  }
  const x = headers['x-api-key'];
  return typeof x === 'string' && x.length > 0 ? x : undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface KeyAuthDeps {
  keys: KeyService;
  failures: FailureLimiter;
}

/**
 * API-key authentication, shared by Fastify's hook and the gateway's fast path: the key, then the
 * route's permission (the caller runs the brute-force guard, `checkNotBlocked`, first). Throws the
 * ApiError the client gets (a 401 carries its `WWW-Authenticate` header).
 */
export async function authenticateKey(
  deps: KeyAuthDeps, headers: IncomingHttpHeaders, ip: string, permission: Permission | undefined, log: FastifyBaseLogger,
  presented: string | undefined = extractKey(headers),
): Promise<AuthContext> {
  const result = await deps.keys.verify(presented, ip);
  if (!result.valid) {
    if (result.code !== 'missing_api_key' && result.code !== 'ip_not_allowed') deps.failures.recordFailure(ip);
    // Only the key id (when the secret was recognised) is logged, never the presented value.
    log.info({ code: result.code, keyId: result.keyId, ip }, 'authentication refused');
    const message = result.reason === 'rotated'
      ? "This API key's previous secret stopped working after rotation; use the new secret"
      : MESSAGES[result.code];
    if (result.code === 'ip_not_allowed') throw new ApiError('ip_not_allowed', message);
    throw new ApiError(result.code, message, {
      headers: { 'www-authenticate': `Bearer realm="backbone"${result.code === 'missing_api_key' ? '' : ', error="invalid_token"'}` },
    });
  }
  const key = result.key;
  if (permission && !key.permissions.includes(permission)) {
    throw new ApiError('insufficient_permissions', `This API key lacks the '${permission}' permission required for this action`);
  }
  return { key, orgId: key.orgId, actor: { id: `key:${key.id}`, ip, permissions: key.permissions, allowedModels: key.allowedModels } };
}

/** Refuse an address that failed authentication too often (429 with `Retry-After`). */
export function checkNotBlocked(failures: FailureLimiter, ip: string): void {
  const blocked = failures.blockedFor(ip);
  if (blocked > 0) {
    throw new ApiError('rate_limit_exceeded', 'Too many failed authentication attempts from this address; try again later', {
      headers: { 'retry-after': String(blocked) },
    });
  }
}

export function createAuthHook(deps: KeyAuthDeps & { sessions?: SessionService }): onRequestHookHandler {
  return async function authenticate(request: FastifyRequest): Promise<void> {
    const config = request.routeOptions.config;
    if (config.public) return;
    const ip = request.ip;
    checkNotBlocked(deps.failures, ip);
    const presented = extractKey(request.headers);
    if (presented === undefined && deps.sessions && request.headers.cookie) {
      const token = readCookie(request, SESSION_COOKIE);
      if (token !== undefined) return authenticateSession(request, deps.sessions, token, ip);
    }
    if (config.role) {
      if (presented === undefined) throw new ApiError('missing_api_key', 'Sign in to the dashboard to do this');
      throw new ApiError('insufficient_permissions', 'This action is only available to a signed-in dashboard user');
    }
    request.auth = await authenticateKey(deps, request.headers, ip, config.permission, request.log, presented);
  };
}

/** A dashboard session: valid cookie, CSRF token on state changes, then the role's permissions. */
async function authenticateSession(request: FastifyRequest, sessions: SessionService, token: string, ip: string): Promise<void> {
  const s = await sessions.resolve(token);
  if (!s) throw new ApiError('invalid_session', 'Your session has ended; sign in again');
  if (!SAFE_METHODS.has(request.method) && !sessions.checkCsrf(token, request.headers['x-csrf-token'])) {
    request.log.info({ userId: s.user.id, ip }, 'CSRF token missing or wrong');
    throw new ApiError('invalid_csrf_token', 'Missing or invalid CSRF token; send the x-csrf-token header from GET /api/v1/session');
  }
  const permissions = ROLE_PERMISSIONS[s.role];
  request.auth = {
    key: null, orgId: s.orgId, session: { user: s.user, role: s.role, tokenHash: s.tokenHash, token },
    actor: { id: `user:${s.user.id}`, ip, permissions, allowedModels: null },
  };
  const { permission, role } = request.routeOptions.config;
  if (permission && !permissions.includes(permission)) {
    throw new ApiError('insufficient_permissions', `Your role (${s.role}) lacks the '${permission}' permission required for this action`);
  }
  if (role && !roleAtLeast(s.role, role)) {
    throw new ApiError('insufficient_permissions', `This action needs the ${role} role; yours is ${s.role}`);
  }
}
