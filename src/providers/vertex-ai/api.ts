/**
 * Where a Gemini call goes. One provider, two front doors, chosen by the account:
 * - Gemini API (an `apiKey`, no `serviceAccountJson`): `{base}/v1beta/models/{model}:{method}`,
 *   base `https://generativelanguage.googleapis.com`, header `x-goog-api-key`;
 * - Vertex AI (a `serviceAccountJson`): `{base}/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:{method}`,
 *   base `https://{location}-aiplatform.googleapis.com` (`https://aiplatform.googleapis.com` for the
 *   `global` location), header `Authorization: Bearer <OAuth token>`.
 */
import { ApiError } from '../../errors.js';
import type { ProviderAccount, UpstreamCall } from '../types.js';
import { parseServiceAccount } from './auth.js';

export const GEMINI_API_BASE_URL = 'https://generativelanguage.googleapis.com';
export const DEFAULT_VERTEX_LOCATION = 'us-central1';

export type GeminiMethod =
  | 'generateContent' | 'streamGenerateContent' | 'batchEmbedContents' | 'predict' | 'countTokens';

export type GeminiEndpoint =
  | { kind: 'gemini'; base: string }
  | { kind: 'vertex'; base: string; project: string; location: string };

const trimSlash = (u: string): string => u.replace(/\/+$/, '');

/** The Vertex AI host for a location. */
export function vertexBaseUrl(location: string): string {
  return location === 'global' ? 'https://aiplatform.googleapis.com' : `https://${location}-aiplatform.googleapis.com`;
}

/** Which API the account uses, and its base URL (and project/location for Vertex). */
export function resolveEndpoint(account: ProviderAccount): GeminiEndpoint {
  if (!account.serviceAccountJson) {
    return { kind: 'gemini', base: trimSlash(account.baseUrl || GEMINI_API_BASE_URL) };
  }
  const key = parseServiceAccount(account.serviceAccountJson);
  const project = account.projectId || key.projectId;
  if (!project) {
    throw new ApiError('upstream_error', 'vertex-ai: no Vertex project id: set the provider\'s project or use a key file with project_id');
  }
  const location = account.location || DEFAULT_VERTEX_LOCATION;
  // A Gemini API base URL (GEMINI_BASE_URL may be set next to a key file) cannot serve Vertex paths.
  const custom = account.baseUrl && !/^https:\/\/generativelanguage\.googleapis\.com\/?$/.test(account.baseUrl)
    ? account.baseUrl : undefined;
  return { kind: 'vertex', base: trimSlash(custom ?? vertexBaseUrl(location)), project, location };
}

/** A model name as the path segment: `models/` (Gemini API resource prefix) is accepted and removed. */
function modelSegment(model: string): string {
  return encodeURIComponent(model.replace(/^models\//, ''));
}

/** The URL of one model method, e.g. `...models/gemini-2.5-flash:generateContent`. */
export function modelUrl(ep: GeminiEndpoint, model: string, method: GeminiMethod): string {
  const m = modelSegment(model);
  const prefix = ep.kind === 'gemini'
    ? `${ep.base}/v1beta/models/${m}`
    : `${ep.base}/v1/projects/${encodeURIComponent(ep.project)}/locations/${encodeURIComponent(ep.location)}/publishers/google/models/${m}`;
  // `alt=sse` makes streamGenerateContent answer server-sent events instead of one JSON array.
  return `${prefix}:${method}${method === 'streamGenerateContent' ? '?alt=sse' : ''}`;
}

/** A JSON POST to a model method (auth headers are added by the adapter). */
export function postJson(url: string, body: unknown): UpstreamCall {
  return { method: 'POST', url, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** The model the Vertex probe counts tokens with: cheap (countTokens is free) and long-lived. */
export const VERTEX_PROBE_MODEL = 'gemini-2.5-flash';

/**
 * A cheap authenticated call that proves the credentials work.
 * - Gemini API: `GET /v1beta/models` (lists models; needs only a valid key).
 * - Vertex AI: `POST ...models/gemini-2.5-flash:countTokens`. There is no free project-scoped
 *   "list" that needs the same permission as generation; countTokens is free, needs
 *   `aiplatform.endpoints.predict` like the real calls, and proves project, location, API
 *   enablement and token at once.
 */
export function probeCall(account: ProviderAccount): UpstreamCall {
  const ep = resolveEndpoint(account);
  if (ep.kind === 'gemini') return { method: 'GET', url: `${ep.base}/v1beta/models?pageSize=1`, headers: {} };
  return postJson(modelUrl(ep, VERTEX_PROBE_MODEL, 'countTokens'), {
    contents: [{ role: 'user', parts: [{ text: 'ping' }] }],
  });
}
