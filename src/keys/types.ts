import type { KeyEnvironment } from './format.js';
import type { Permission } from './permissions.js';
import type { Limits } from '../limits/types.js';

/** An API key as the product knows it. Holds no secret: only the display prefix. */
export interface ApiKey {
  id: string;
  orgId: string;
  name: string;
  environment: KeyEnvironment;
  /** `sk_live_` + the first characters of the random part. */
  prefix: string;
  permissions: Permission[];
  /** null = every model the organisation may call. */
  allowedModels: string[] | null;
  /** IPs / CIDRs; null = any address. */
  allowedIps: string[] | null;
  expiresAt: number | null;
  createdAt: number;
  /** Who created it: `key:<id>`, `user:<id>` or `cli`. */
  createdBy: string | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
  updatedAt: number;
  /** The key's own rate limits and budget (null fields: the plan's default, or none). */
  limits: Limits;
}

/** What a secret hash resolves to: the key, and when this particular secret stops working
 *  (set on the previous secret after a rotation with a grace period). */
export interface KeyLookup {
  key: ApiKey;
  secretExpiresAt: number | null;
}
