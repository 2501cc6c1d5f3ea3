/**
 * BYOK provider accounts ("AI Providers"): `/api/v1/providers`. One account per provider per
 * organisation; another organisation's account answers 404. No response ever holds a secret or
 * its ciphertext: an API key shows as `...abcd`, a service account as its client_email.
 */
import type { FastifyInstance } from 'fastify';
import type { ProviderAccountService } from '../../accounts/service.js';
import type { StoredProviderAccount } from '../../accounts/types.js';
import type { ProbeFn } from '../../accounts/probe.js';
import { createProviderAccountInput, updateProviderAccountInput } from '../../accounts/input.js';
import { invalidRequest } from '../../errors.js';

const iso = (ms: number): string => new Date(ms).toISOString();

/** The public shape of a provider account. */
export function providerAccountJson(a: StoredProviderAccount) {
  const serviceAccount = a.config.credential === 'service_account';
  return {
    object: 'provider_account' as const,
    id: a.id,
    provider: a.provider,
    name: a.name,
    base_url: a.config.baseUrl,
    api_version: a.config.apiVersion,
    project_id: a.config.projectId,
    location: a.config.location,
    api_key_hint: a.config.credential === 'api_key' ? a.secretHint : null,
    has_service_account: serviceAccount,
    /** The service account's client_email (an identity, not a secret). */
    service_account_email: serviceAccount ? a.secretHint : null,
    created_at: iso(a.createdAt),
    updated_at: iso(a.updatedAt),
    created_by: a.createdBy,
  };
}

const idParam = (params: unknown): string => {
  const id = (params as { id: string }).id;
  if (id.length > 64) throw invalidRequest('Invalid provider account id', 'id');
  return id;
};

export function providerRoutes(app: FastifyInstance, accounts: ProviderAccountService, probe: ProbeFn): void {
  app.post('/providers', { config: { permission: 'providers:write' } }, async (request, reply) => {
    const account = await accounts.create(request.auth.orgId, createProviderAccountInput(request.body), request.auth.actor);
    reply.code(201);
    return providerAccountJson(account);
  });

  app.get('/providers', { config: { permission: 'providers:read' } }, async (request) => {
    const list = await accounts.list(request.auth.orgId);
    return { object: 'list', data: list.map(providerAccountJson), has_more: false };
  });

  app.get('/providers/:id', { config: { permission: 'providers:read' } }, async (request) => {
    return providerAccountJson(await accounts.get(request.auth.orgId, idParam(request.params)));
  });

  app.patch('/providers/:id', { config: { permission: 'providers:write' } }, async (request) => {
    const id = idParam(request.params);
    const input = updateProviderAccountInput(request.body);
    return providerAccountJson(await accounts.update(request.auth.orgId, id, input, request.auth.actor));
  });

  app.delete('/providers/:id', { config: { permission: 'providers:write' } }, async (request) => {
    const deleted = await accounts.delete(request.auth.orgId, idParam(request.params), request.auth.actor);
    return { id: deleted.id, object: 'provider_account', deleted: true };
  });

  // providers:write: the check sends the stored credentials to the configured endpoint.
  app.post('/providers/:id/test', { config: { permission: 'providers:write' } }, async (request) => {
    return accounts.test(request.auth.orgId, idParam(request.params), probe);
  });
}
