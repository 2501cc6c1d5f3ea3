/**
 * Google's error bodies (Gemini API and Vertex AI) mapped to Backbone's taxonomy.
 *
 * Body shape: `{"error":{"code":429,"message":"...","status":"RESOURCE_EXHAUSTED","details":[...]}}`,
 * in streams sometimes wrapped in an array. `details` may hold a `google.rpc.RetryInfo` with
 * `retryDelay` ("7s", "0.5s"), which is the only retry hint Gemini gives (no `retry-after`).
 */
import { mapUpstreamError, parseRetryAfter } from '../errors.js';
import type { ErrorBody, UpstreamErrorInfo } from '../types.js';
import { findGoogleError, type GoogleError } from './wire.js';

const PROVIDER = 'vertex-ai';

/** Google's canonical status names, for error objects that carry no numeric `code` (streams). */
const STATUS_CODES: Record<string, number> = {
  INVALID_ARGUMENT: 400, FAILED_PRECONDITION: 400, OUT_OF_RANGE: 400, UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403, NOT_FOUND: 404, ALREADY_EXISTS: 409, ABORTED: 409, RESOURCE_EXHAUSTED: 429,
  CANCELLED: 499, INTERNAL: 500, UNKNOWN: 500, UNIMPLEMENTED: 501, UNAVAILABLE: 503, DEADLINE_EXCEEDED: 504,
};

/** Seconds from the first `google.rpc.RetryInfo` detail (a protobuf Duration such as "7s"). */
export function retryDelaySeconds(err: GoogleError | undefined): number | undefined {
  for (const d of err?.details ?? []) {
    if (typeof d.retryDelay !== 'string') continue;
    const m = /^(\d+(?:\.\d+)?)s$/.exec(d.retryDelay.trim());
    if (m) return Math.ceil(Number(m[1]));
  }
  return undefined;
}

/** Gemini API quirk: a wrong API key is `400 INVALID_ARGUMENT` (reason `API_KEY_INVALID`), not 401. */
function isApiKeyError(err: GoogleError): boolean {
  if (err.details.some((d) => typeof d.reason === 'string' && d.reason.startsWith('API_KEY_'))) return true;
  return /api key not valid|api key expired/i.test(err.message ?? '');
}

/** The HTTP status Backbone should reason about for this Google error. */
function effectiveStatus(status: number, err: GoogleError | undefined): number {
  if (!err) return status;
  if (status === 400 && isApiKeyError(err)) return 401;
  // FAILED_PRECONDITION is how Gemini says the *account* cannot serve ("User location is not
  // supported", "enable billing"): not the caller's request at fault, so not a 400 to the client.
  if (err.status === 'FAILED_PRECONDITION') return 502;
  return status;
}

/** Map a non-2xx Google response to Backbone's error taxonomy. */
export function mapGoogleError(
  status: number,
  bodyText: string,
  headers: Record<string, string | string[] | undefined>,
): UpstreamErrorInfo {
  let parsed: unknown;
  try { parsed = JSON.parse(bodyText); } catch { parsed = undefined; }
  const err = findGoogleError(parsed);
  const retryAfter = parseRetryAfter(headers['retry-after']) ?? retryDelaySeconds(err);
  return mapUpstreamError(PROVIDER, effectiveStatus(status, err), err?.message, retryAfter !== undefined ? { retryAfter } : {});
}

/** The OpenAI error body for a Google error object received inside a stream. */
export function streamErrorBody(err: GoogleError): ErrorBody {
  const status = err.code ?? STATUS_CODES[err.status ?? ''] ?? 500;
  return mapUpstreamError(PROVIDER, effectiveStatus(status, err), err.message).error;
}
