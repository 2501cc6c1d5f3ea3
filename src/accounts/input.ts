/**
 * Validation of provider-account requests (the HTTP API; a CLI would share it). Field values are
 * checked here, shape by shape; whether a field applies to a provider is rules.ts's job. A bad value
 * is never echoed back: messages name the parameter only.
 */
import { z } from 'zod';
import { parseInput } from '../keys/input.js';
import { PROVIDER_NAMES } from '../providers/registry.js';
import type { ProviderName } from '../providers/types.js';
import { serviceAccountInfo } from './rules.js';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

const name = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters')
  .refine((s) => !CONTROL.test(s), 'must not contain control characters');

const apiKey = z.string().trim().min(1, 'must not be empty').max(4096, 'is too long')
  .refine((s) => !/\s/.test(s) && !CONTROL.test(s), 'must not contain spaces or control characters');

/** http(s) only; credentials belong in api_key (a URL is stored in the clear), and paths are appended to it. */
function checkBaseUrl(s: string): string | undefined {
  let u: URL;
  try { u = new URL(s); } catch { return 'must be an http(s) URL'; }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'must be an http(s) URL';
  if (u.username || u.password) return 'must not contain credentials; use api_key';
  if (u.search || u.hash || s.includes('?') || s.includes('#')) return 'must not contain a query string or fragment';
  return undefined;
}
const baseUrl = z.string().trim().max(2048, 'is too long')
  .superRefine((s, ctx) => { const problem = checkBaseUrl(s); if (problem) ctx.addIssue({ code: 'custom', message: problem }); })
  .transform((s) => s.replace(/\/+$/, ''));

const apiVersion = z.string().trim().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must look like 2024-10-21 or v1');
const projectId = z.string().trim().regex(/^[A-Za-z0-9.:_-]{1,128}$/, 'must be a Google Cloud project id');
const location = z.string().trim().regex(/^[a-z0-9-]{1,64}$/, 'must be a Google Cloud location such as us-central1 or global');

/** The key file's text, or the parsed JSON object pasted as is. */
const serviceAccountJson = z.union([z.string().max(65_536, 'is too large'), z.record(z.string(), z.unknown())])
  .transform((v) => (typeof v === 'string' ? v.trim() : JSON.stringify(v)))
  .refine((s) => s.length <= 65_536, 'is too large');

const provider = z.enum(PROVIDER_NAMES as unknown as [ProviderName, ...ProviderName[]]);

// null clears an optional field (PATCH); on create it is the same as leaving the field out.
const fields = {
  name: name.optional(),
  api_key: apiKey.nullable().optional(),
  base_url: baseUrl.nullable().optional(),
  api_version: apiVersion.nullable().optional(),
  project_id: projectId.nullable().optional(),
  location: location.nullable().optional(),
  service_account_json: serviceAccountJson.nullable().optional(),
};

const createSchema = z.object({ provider, ...fields }).strict();
const updateSchema = z.object({ provider: provider.optional(), ...fields }).strict();

/** Account fields as given: undefined = not given, null = clear. */
export interface ProviderAccountFields {
  name?: string;
  apiKey?: string | null;
  baseUrl?: string | null;
  apiVersion?: string | null;
  projectId?: string | null;
  location?: string | null;
  serviceAccountJson?: string | null;
}

export interface CreateProviderAccountInput extends ProviderAccountFields { provider: ProviderName }
export interface UpdateProviderAccountInput extends ProviderAccountFields { provider?: ProviderName }

function toFields(b: z.infer<typeof updateSchema>): ProviderAccountFields {
  // Checked here so a broken key file is reported as such, before any per-provider rule.
  if (b.service_account_json) serviceAccountInfo(b.service_account_json);
  return {
    name: b.name, apiKey: b.api_key, baseUrl: b.base_url, apiVersion: b.api_version,
    projectId: b.project_id, location: b.location, serviceAccountJson: b.service_account_json,
  };
}

/** `POST /providers` body -> input (400 naming the parameter on any problem). */
export function createProviderAccountInput(body: unknown): CreateProviderAccountInput {
  const b = parseInput(createSchema, body);
  return { ...toFields(b), provider: b.provider };
}

/** `PATCH /providers/{id}` body -> input. */
export function updateProviderAccountInput(body: unknown): UpdateProviderAccountInput {
  const b = parseInput(updateSchema, body);
  return { ...toFields(b), provider: b.provider };
}
