/**
 * Anthropic errors, in both directions:
 * - `AnthropicTranslationError`: thrown by the translators when a request cannot be expressed for
 *   Anthropic (400 invalid_request, naming the OpenAI `param`) or an upstream body is unusable (502);
 * - `mapAnthropicError` / `mapAnthropicStreamError`: Anthropic's error bodies and stream `error`
 *   events mapped to Backbone's taxonomy through the shared `mapUpstreamError`.
 */
import { mapUpstreamError, parseRetryAfter } from '../errors.js';
import { ApiError, type ErrorCode } from '../../errors.js';
import type { ErrorBody, UpstreamErrorInfo } from '../types.js';
import { isRecord, str } from './narrow.js';
import type { AnthropicErrorDetail } from './wire.js';

const PROVIDER = 'anthropic';

/** An error for the client: an ApiError (rendered by the one envelope), with the OpenAI error
 *  object at hand for stream `error` events. */
export class AnthropicTranslationError extends ApiError {
  constructor(status: number, error: ErrorBody) {
    super(error.code as ErrorCode, error.message, { status, type: error.type, param: error.param });
    this.name = 'AnthropicTranslationError';
  }

  get error(): ErrorBody {
    return this.toJSON().error;
  }

  /** The client's request asks for something Anthropic cannot do (400, names the OpenAI param). */
  static invalidRequest(message: string, param: string | null = null): AnthropicTranslationError {
    return new AnthropicTranslationError(400, { message, type: 'invalid_request_error', code: 'invalid_request', param });
  }

  /** Anthropic answered 2xx with something unusable (502 upstream_error). */
  static badUpstream(message: string): AnthropicTranslationError {
    return new AnthropicTranslationError(502, { message: `${PROVIDER}: ${message}`, type: 'api_error', code: 'upstream_error' });
  }
}

/** The `error` object of Anthropic's error body (HTTP error or stream `error` event). */
export function parseErrorDetail(json: unknown): AnthropicErrorDetail | undefined {
  const err = isRecord(json) ? json['error'] : undefined;
  if (!isRecord(err)) return undefined;
  return { type: str(err['type']) ?? 'api_error', message: str(err['message']) ?? '' };
}

/** HTTP status Anthropic documents for each error type; stream `error` events carry only the type. */
const STATUS_BY_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/**
 * Quirk: an account out of credit answers 400 invalid_request_error "Your credit balance is too low
 * ...". The caller's request is fine; the provider account cannot pay, like a credentials failure.
 * Treated as 402 (billing_error), which maps to 502 upstream_error, so no client "fixes" its request.
 */
function effectiveStatus(status: number, detail: AnthropicErrorDetail | undefined): number {
  if (detail && /credit balance is too low/i.test(detail.message)) return 402;
  return status;
}

function summarise(bodyText: string): string {
  const text = bodyText.trim();
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

/** Map a non-2xx Anthropic response. 529 overloaded becomes 502 upstream_error (the gateway may
 *  retry it, as any 5xx); `retry-after` is kept. */
export function mapAnthropicError(
  status: number,
  bodyText: string,
  headers: Record<string, string | string[] | undefined>,
): UpstreamErrorInfo {
  let detail: AnthropicErrorDetail | undefined;
  try {
    detail = parseErrorDetail(JSON.parse(bodyText));
  } catch {
    detail = undefined; // an HTML page from a proxy, an empty body...
  }
  const retryAfter = parseRetryAfter(headers['retry-after']);
  const message = detail ? detail.message || detail.type : summarise(bodyText);
  return mapUpstreamError(PROVIDER, effectiveStatus(status, detail), message, retryAfter !== undefined ? { retryAfter } : {});
}

/** Map a mid-stream `error` event (e.g. overloaded_error after the 200 was sent) to the error object
 *  of the `{"error":{...}}` event the gateway emits. */
export function mapAnthropicStreamError(detail: AnthropicErrorDetail): ErrorBody {
  const status = STATUS_BY_TYPE[detail.type] ?? 500;
  return mapUpstreamError(PROVIDER, effectiveStatus(status, detail), detail.message || detail.type).error;
}
