/**
 * Bearer authentication for every `/api/v1` route (RFC 6750; `x-api-key` is accepted too), the
 * permission each route declares in `config.permission`, and the brute-force guard.
 * Runs in onRequest, before any body is read.
 */
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { ApiError } from '../errors.js';
import type { KeyService, Actor, VerifyFailure } from '../keys/service.js';
import type { FailureLimiter } from '../limits/auth-failures.js';
import type { Permission } from '../keys/permissions.js';
import type { ApiKey } from '../keys/types.js';

export interface AuthContext {
  key: ApiKey;
  orgId: string;
  actor: Actor;
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext;
  }
  interface FastifyContextConfig {
    /** The permission a key needs for this route. */
    permission?: Permission;
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
export function extractKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header) {
    const m = /^bearer +(\S+) *$/i.exec(header.length > 4096 ? header.slice(0, 4096) : header);
    return m ? m[1] : header.length > 0 ? '\u0000' : undefined; // a non-Bearer scheme is an invalid key, not a missing one
  }
  const x = request.headers['x-api-key'];
  return typeof x === 'string' && x.length > 0 ? x : undefined;
}

export function createAuthHook(deps: { keys: KeyService; failures: FailureLimiter }): onRequestHookHandler {
  return async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const ip = request.ip;
    const blocked = deps.failures.blockedFor(ip);
    if (blocked > 0) {
      throw new ApiError('rate_limit_exceeded', 'Too many failed authentication attempts from this address; try again later', {
        headers: { 'retry-after': String(blocked) },
      });
    }
    const result = await deps.keys.verify(extractKey(request), ip);
    if (!result.valid) {
      if (result.code !== 'missing_api_key' && result.code !== 'ip_not_allowed') deps.failures.recordFailure(ip);
      // Only the key id (when the secret was recognised) is logged, never the presented value.
      request.log.info({ code: result.code, keyId: result.keyId, ip }, 'authentication refused');
      const message = result.reason === 'rotated'
        ? "This API key's previous secret stopped working after rotation; use the new secret"
        : MESSAGES[result.code];
      if (result.code === 'ip_not_allowed') throw new ApiError('ip_not_allowed', message);
      reply.header('www-authenticate', `Bearer realm="backbone"${result.code === 'missing_api_key' ? '' : ', error="invalid_token"'}`);
      throw new ApiError(result.code, message);
    }
    const key = result.key;
    request.auth = { key, orgId: key.orgId, actor: { id: `key:${key.id}`, ip, permissions: key.permissions, allowedModels: key.allowedModels } };
    const needed = request.routeOptions.config.permission;
    if (needed && !key.permissions.includes(needed)) {
      throw new ApiError('insufficient_permissions', `This API key lacks the '${needed}' permission required for this action`);
    }
  };
}
