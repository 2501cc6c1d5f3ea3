/**
 * Ollama errors: `{"error":"message"}` with the HTTP status (404 for an unknown or unpulled model,
 * 400 for a bad request, 500 when the runner fails, e.g. out of memory; 401 from the hosted API).
 */
import { mapUpstreamError, parseRetryAfter } from '../errors.js';
import { header } from '../openai/error.js';
import { isRecord, str, tryParseJson } from '../openai/json.js';
import type { UpstreamErrorInfo } from '../types.js';

/** `ProviderAdapter.error` for Ollama. */
export function ollamaError(status: number, bodyText: string, headers: Record<string, string | string[] | undefined>): UpstreamErrorInfo {
  const json = tryParseJson(bodyText);
  let message: string | undefined;
  if (isRecord(json)) {
    message = typeof json.error === 'string' ? json.error : isRecord(json.error) ? str(json.error.message) : undefined;
  } else if (bodyText.trim()) {
    message = bodyText.trim().slice(0, 500);
  }
  const retryAfter = parseRetryAfter(header(headers, 'retry-after'));
  return mapUpstreamError('ollama', status, message, retryAfter !== undefined ? { retryAfter } : {});
}
