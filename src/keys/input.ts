/**
 * Validation of key-management input, shared by the HTTP API and the CLI. Produces one
 * `invalid_request` ApiError naming the offending parameter.
 */
import { z } from 'zod';
import { ApiError, invalidRequest } from '../errors.js';
import { isIpOrCidr } from './ip-allow-list.js';
import { resolvePermissions, type Permission } from './permissions.js';
import type { KeyEnvironment } from './format.js';
import { checkBudget, limitFields, toLimits } from '../limits/input.js';
import { NO_LIMITS, type Limits } from '../limits/types.js';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** `30d`, `24h`, `90m`, `3600s`, `2w` or a plain number of seconds -> milliseconds. */
export function parseDuration(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 && v <= 10 * 365 * 86400 ? v * 1000 : undefined;
  const m = /^(\d{1,9})\s*([smhdw]?)$/.exec(v.trim());
  if (!m) return undefined;
  const secs = Number(m[1]) * (UNITS[m[2] || 's'] ?? 1);
  return secs <= 10 * 365 * 86400 ? secs * 1000 : undefined;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const name = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters')
  .refine((s) => !CONTROL.test(s), 'must not contain control characters');
const modelList = z.array(z.string().min(1).max(200)).max(500).nullable();
const ipList = z.array(z.string().max(64).refine(isIpOrCidr, 'must be an IP address or CIDR block')).max(500).nullable();
const permissions = z.union([z.array(z.string().max(64)).max(50), z.string().max(500)]);
const timestamp = z.union([z.string().max(64), z.number()]).nullable();

export const createKeySchema = z.object({
  name,
  environment: z.enum(['live', 'test']).optional(),
  permissions: permissions.optional(),
  allowed_models: modelList.optional(),
  allowed_ips: ipList.optional(),
  expires_at: timestamp.optional(),
  expires_in: z.union([z.string().max(32), z.number()]).optional(),
  ...limitFields,
}).strict();

export const updateKeySchema = z.object({
  name: name.optional(),
  permissions: permissions.optional(),
  allowed_models: modelList.optional(),
  allowed_ips: ipList.optional(),
  expires_at: timestamp.optional(),
  ...limitFields,
}).strict();

export const rotateKeySchema = z.object({
  grace: z.union([z.string().max(32), z.number()]).optional(),
  grace_period: z.union([z.string().max(32), z.number()]).optional(),
}).strict();

/** Parse with a zod schema; the first problem becomes a 400 naming its parameter. */
export function parseInput<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const param = issue.path.length ? issue.path.join('.') : null;
  const message = issue.code === 'unrecognized_keys'
    ? `Unknown parameter: ${issue.keys.join(', ')}`
    : issue.code === 'invalid_type' && issue.path.length === 0
      ? 'The request body must be a JSON object'
      : `Invalid ${param ?? 'body'}: ${issue.message}`;
  throw invalidRequest(message, issue.code === 'unrecognized_keys' ? (issue.keys[0] ?? null) : param);
}

export function toPermissions(input: string | string[] | undefined, fallback: readonly Permission[]): Permission[] {
  if (input === undefined) return [...fallback];
  const r = resolvePermissions(input);
  if (!r.ok) throw invalidRequest(`Unknown permission '${r.unknown.slice(0, 64)}'`, 'permissions');
  return r.permissions;
}

/** ISO 8601 string or Unix seconds -> ms; must be in the future. */
export function toExpiry(v: string | number | null | undefined, param: string, now: number): number | null | undefined {
  if (v === undefined || v === null) return v;
  const ms = typeof v === 'number' ? v * 1000 : Date.parse(v);
  if (!Number.isFinite(ms)) throw invalidRequest(`Invalid ${param}: expected an ISO 8601 time or Unix seconds`, param);
  if (ms <= now) throw invalidRequest(`Invalid ${param}: must be in the future`, param);
  return ms;
}

export function durationParam(v: string | number | undefined, param: string): number | undefined {
  if (v === undefined) return undefined;
  const ms = parseDuration(v);
  if (ms === undefined) throw invalidRequest(`Invalid ${param}: use a duration like 30d, 24h, 90m or seconds`, param);
  return ms;
}

export interface CreateKeyInput {
  name: string;
  environment: KeyEnvironment;
  permissions: Permission[];
  allowedModels: string[] | null;
  allowedIps: string[] | null;
  expiresAt: number | null;
  /** Absent: no limits of its own (the plan's defaults apply). */
  limits?: Limits;
}

/** Validate a create request into domain input. */
export function createKeyInput(body: unknown, defaults: readonly Permission[], now = Date.now()): CreateKeyInput {
  const b = parseInput(createKeySchema, body);
  if (b.expires_at != null && b.expires_in !== undefined) throw invalidRequest('Give expires_at or expires_in, not both', 'expires_in');
  const inMs = durationParam(b.expires_in, 'expires_in');
  if (inMs === 0) throw invalidRequest('Invalid expires_in: must be more than zero', 'expires_in');
  const limits: Limits = { ...NO_LIMITS, ...toLimits(b) };
  checkBudget(limits);
  return {
    name: b.name,
    environment: b.environment ?? 'live',
    permissions: toPermissions(b.permissions, defaults),
    allowedModels: b.allowed_models ?? null,
    allowedIps: b.allowed_ips ?? null,
    expiresAt: inMs !== undefined ? now + inMs : (toExpiry(b.expires_at, 'expires_at', now) ?? null),
    limits,
  };
}

export { ApiError };
