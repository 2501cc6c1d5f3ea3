/** Helpers for the limit suites: keys with limits, and the shape of a 429 rate_limit_exceeded. */
import assert from 'node:assert/strict';
import { NO_LIMITS, type Limits } from '../../src/limits/types.js';
import { DEFAULT_PERMISSIONS, type Permission } from '../../src/keys/permissions.js';
import type { TestApp } from './app.js';

/** A key with its own limits, in the default organisation (plan unlimited) unless `orgId` is given. */
export async function keyWith(t: TestApp, limits: Partial<Limits>, orgId?: string, permissions: Permission[] = [...DEFAULT_PERMISSIONS]): Promise<{ id: string; key: string }> {
  const org = orgId ?? (await t.app.store.orgs.ensureDefault()).id;
  const { key, secret } = await t.app.keys.create(org, {
    name: 'limited', environment: 'live', permissions, allowedModels: null, allowedIps: null,
    expiresAt: null, limits: { ...NO_LIMITS, ...limits },
  }, { id: 'cli', ip: null });
  return { id: key.id, key: secret };
}

export function assertRateLimited(res: { status: number; headers: Headers; json: any }): void {
  assert.equal(res.status, 429);
  assert.equal(res.json.error.code, 'rate_limit_exceeded');
  assert.equal(res.json.error.type, 'rate_limit_error');
  assert.match(res.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
}

/** An audit event for repository calls made directly by a test. */
export const testAudit = (orgId: string) => ({ orgId, actor: 'cli', action: 'test', targetType: 'organization', targetId: orgId, details: {}, ip: null });
