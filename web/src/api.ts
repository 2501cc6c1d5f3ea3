/** The dashboard talks only to Backbone's own /api/v1, with the session cookie and the CSRF token. */

export interface ApiErrorBody { message: string; type: string; code: string; param?: string | null }

export class ApiError extends Error {
  constructor(readonly status: number, readonly body: ApiErrorBody) {
    super(body.message);
  }
  get code(): string { return this.body.code; }
}

let csrfToken = '';
let onSignedOut: () => void = () => {};

export function setCsrfToken(token: string): void { csrfToken = token; }
export function setSignedOutHandler(fn: () => void): void { onSignedOut = fn; }

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, { message: 'Cannot reach Backbone. Check your connection and try again.', type: 'network_error', code: 'network_error' });
  }
  const text = await res.text();
  let json: unknown;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  if (!res.ok) {
    const err = (json as { error?: ApiErrorBody } | undefined)?.error ?? { message: `Request failed (${res.status})`, type: 'api_error', code: 'unknown' };
    if (res.status === 401 && (err.code === 'invalid_session' || err.code === 'missing_api_key')) onSignedOut();
    throw new ApiError(res.status, err);
  }
  return json as T;
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body: unknown = {}) => api<T>('POST', path, body);
export const patch = <T>(path: string, body: unknown) => api<T>('PATCH', path, body);
export const del = <T>(path: string) => api<T>('DELETE', path);

/** Download a CSV through the same session (a link would lose nothing, but fetch keeps errors visible). */
export async function downloadCsv(path: string, filename: string): Promise<void> {
  const res = await fetch(`/api/v1${path}`, { credentials: 'same-origin', headers: { accept: 'text/csv' } });
  if (!res.ok) throw new ApiError(res.status, { message: `Export failed (${res.status})`, type: 'api_error', code: 'export_failed' });
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// Shapes of the API's JSON used by the pages.
export type Role = 'owner' | 'admin' | 'member';
export interface Session {
  signed_in: true;
  user: { id: string; email: string; name: string };
  organization: { id: string; slug: string; name: string; plan: string } | null;
  role: Role;
  permissions: string[];
  organizations: { id: string; slug: string; name: string; role: Role }[];
  csrf_token: string;
}
export type SessionState = Session | { signed_in: false; setup_required: boolean };

export interface ApiKey {
  id: string; name: string; prefix: string; environment: 'live' | 'test'; permissions: string[];
  allowed_models: string[] | null; allowed_ips: string[] | null; status: 'active' | 'revoked' | 'expired';
  created_at: string; created_by: string | null; last_used_at: string | null; expires_at: string | null; revoked_at: string | null;
  rpm_limit?: number | null; tpm_limit?: number | null; budget_usd?: number | null; budget_period?: string | null;
}
export interface List<T> { object: 'list'; data: T[]; has_more: boolean }
export interface UsageTotals { requests: number; prompt_tokens: number; completion_tokens: number; cached_tokens: number; cost_usd: number; errors: number }
export interface UsageResponse { from: string; to: string; group_by: string | null; totals: UsageTotals; data: (UsageTotals & Record<string, unknown>)[] }
export interface UsageError { id: string; key_id: string; endpoint: string; model: string; provider: string | null; status: number; error_code: string | null; latency_ms: number; created_at: string }
export interface ProviderAccount {
  id: string; provider: string; name: string; base_url: string | null; api_version: string | null; project_id: string | null;
  location: string | null; api_key_hint: string | null; has_service_account: boolean; service_account_email: string | null;
  created_at: string; updated_at: string;
}
export interface Organization { id: string; slug: string; name: string; plan: string; byok_available: boolean; plans: { name: string; byok: boolean; monthly_platform_tokens: number | null }[] }
export interface Member { id: string; email: string; name: string; role: Role; joined_at: string }
export interface Invite { id: string; email: string | null; role: Role; created_at: string; expires_at: string; token?: string; path?: string }
export interface AuditEvent { id: string; actor: string; action: string; target_type: string; target_id: string; details: Record<string, unknown>; ip: string | null; created_at: string }
export interface ModelPrice { id: string; provider: string; byok: boolean; input_per_million: number | null; output_per_million: number | null; cached_input_per_million: number | null; audio_per_minute: number | null }
