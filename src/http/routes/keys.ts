/** Management API for API keys: `/api/v1/keys`. Another organisation's key answers 404. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { seesOnlyOwnKeys } from '../../users/roles.js';
import { z } from 'zod';
import type { KeyScope, KeyService } from '../../keys/service.js';
import type { ApiKey } from '../../keys/types.js';
import { DEFAULT_PERMISSIONS } from '../../keys/permissions.js';
import {
  createKeyInput, durationParam, parseInput, rotateKeySchema, toExpiry, toPermissions, updateKeySchema,
} from '../../keys/input.js';
import { invalidRequest } from '../../errors.js';
import { limitsJson } from '../../limits/types.js';
import { toLimits } from '../../limits/input.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The public shape of a key: never the secret, never its hash. */
export function apiKeyJson(k: ApiKey, now = Date.now()) {
  return {
    object: 'api_key' as const,
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    environment: k.environment,
    permissions: k.permissions,
    allowed_models: k.allowedModels,
    allowed_ips: k.allowedIps,
    status: k.revokedAt !== null ? 'revoked' : k.expiresAt !== null && k.expiresAt <= now ? 'expired' : 'active',
    created_at: iso(k.createdAt),
    created_by: k.createdBy,
    last_used_at: iso(k.lastUsedAt),
    expires_at: iso(k.expiresAt),
    revoked_at: iso(k.revokedAt),
    ...limitsJson(k.limits),
  };
}

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  after: z.string().max(64).optional(),
}).strict();

const idParam = (params: unknown): string => {
  const id = (params as { id: string }).id;
  if (id.length > 64) throw invalidRequest('Invalid key id', 'id');
  return id;
};

/** A dashboard member manages only the keys they created; everyone else sees the organisation's. */
const scopeOf = (request: FastifyRequest): KeyScope | undefined => {
  const s = request.auth.session;
  return s && seesOnlyOwnKeys(s.role) ? { createdBy: request.auth.actor.id } : undefined;
};

export function keyRoutes(app: FastifyInstance, keys: KeyService): void {
  app.post('/keys', { config: { permission: 'keys:write' } }, async (request, reply) => {
    const input = createKeyInput(request.body, DEFAULT_PERMISSIONS);
    const { key, secret } = await keys.create(request.auth.orgId, input, request.auth.actor);
    // The only response that ever holds the full key.
    reply.code(201).header('cache-control', 'no-store');
    return { ...apiKeyJson(key), key: secret };
  });

  app.get('/keys', { config: { permission: 'keys:read' } }, async (request) => {
    const q = parseInput(listQuery, request.query);
    const limit = q.limit ?? 100;
    const page = await keys.list(request.auth.orgId, { limit: limit + 1, after: q.after, createdBy: scopeOf(request)?.createdBy });
    const now = Date.now();
    return { object: 'list', data: page.slice(0, limit).map((k) => apiKeyJson(k, now)), has_more: page.length > limit };
  });

  app.get('/keys/:id', { config: { permission: 'keys:read' } }, async (request) => {
    return apiKeyJson(await keys.get(request.auth.orgId, idParam(request.params), scopeOf(request)));
  });

  app.patch('/keys/:id', { config: { permission: 'keys:write' } }, async (request) => {
    const b = parseInput(updateKeySchema, request.body);
    const key = await keys.update(request.auth.orgId, idParam(request.params), {
      name: b.name,
      permissions: b.permissions === undefined ? undefined : toPermissions(b.permissions, DEFAULT_PERMISSIONS),
      allowedModels: b.allowed_models,
      allowedIps: b.allowed_ips,
      expiresAt: b.expires_at === undefined ? undefined : (toExpiry(b.expires_at, 'expires_at', Date.now()) ?? null),
      limits: toLimits(b),
    }, request.auth.actor, scopeOf(request));
    return apiKeyJson(key);
  });

  app.post('/keys/:id/revoke', { config: { permission: 'keys:write' } }, async (request) => {
    return apiKeyJson(await keys.revoke(request.auth.orgId, idParam(request.params), request.auth.actor, scopeOf(request)));
  });

  app.post('/keys/:id/rotate', { config: { permission: 'keys:write' } }, async (request, reply) => {
    const b = parseInput(rotateKeySchema, request.body);
    const graceMs = durationParam(b.grace ?? b.grace_period, b.grace !== undefined ? 'grace' : 'grace_period') ?? 0;
    const { key, secret, previousSecretExpiresAt } = await keys.rotate(request.auth.orgId, idParam(request.params), graceMs, request.auth.actor, scopeOf(request));
    reply.header('cache-control', 'no-store');
    return { ...apiKeyJson(key), key: secret, previous_key_expires_at: iso(previousSecretExpiresAt) };
  });
}
