import type { UpstreamErrorInfo } from './types.js';

/**
 * Map a provider's HTTP status (and its own message) to Backbone's error taxonomy, so that the
 * client's OpenAI SDK raises the class that fits what happened:
 * - 400/422 -> 400 invalid_request_error/invalid_request (the provider rejected the request's content)
 * - 404     -> 404 invalid_request_error/model_not_found (the provider does not know the model)
 * - 413     -> 413 invalid_request_error/request_too_large
 * - 429     -> 429 rate_limit_error/rate_limit_exceeded, or insufficient_quota when the provider says so;
 *              the provider's retry-after is kept
 * - 401/403 -> 502 api_error/upstream_error: the *provider account's* credentials failed, not the
 *              caller's Backbone key, so it must not look like an authentication error to the client
 * - 408/504 -> 504 api_error/upstream_timeout
 * - other   -> 502 api_error/upstream_error
 */
export function mapUpstreamError(
  provider: string,
  status: number,
  message: string | undefined,
  opts: { quota?: boolean; retryAfter?: number; param?: string | null } = {},
): UpstreamErrorInfo {
  const text = (message && message.trim()) || `HTTP ${status}`;
  const prefixed = `${provider}: ${text}`;
  const base = opts.retryAfter !== undefined ? { retryAfter: opts.retryAfter } : {};
  if (status === 400 || status === 422) {
    return { ...base, status: 400, error: { message: prefixed, type: 'invalid_request_error', code: 'invalid_request', param: opts.param ?? null } };
  }
  if (status === 404) return { ...base, status: 404, error: { message: prefixed, type: 'invalid_request_error', code: 'model_not_found' } };
  if (status === 413) return { ...base, status: 413, error: { message: prefixed, type: 'invalid_request_error', code: 'request_too_large' } };
  if (status === 429) {
    return opts.quota
      ? { ...base, status: 429, error: { message: prefixed, type: 'insufficient_quota', code: 'insufficient_quota' } }
      : { ...base, status: 429, error: { message: prefixed, type: 'rate_limit_error', code: 'rate_limit_exceeded' } };
  }
  if (status === 401 || status === 403) {
    return { ...base, status: 502, error: { message: `${provider} rejected the provider credentials (${status}): ${text}`, type: 'api_error', code: 'upstream_error' } };
  }
  if (status === 408 || status === 504) return { ...base, status: 504, error: { message: prefixed, type: 'api_error', code: 'upstream_timeout' } };
  return { ...base, status: 502, error: { message: prefixed, type: 'api_error', code: 'upstream_error' } };
}

/** Parse a `retry-after` header (seconds or HTTP date) into whole seconds. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs) && secs >= 0) return Math.ceil(secs);
  const at = Date.parse(v);
  if (Number.isFinite(at)) return Math.max(0, Math.ceil((at - now) / 1000));
  return undefined;
}
