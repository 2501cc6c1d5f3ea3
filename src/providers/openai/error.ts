/**
 * OpenAI-shaped error bodies -> Backbone's taxonomy (the mapping itself is providers/errors.ts).
 *
 * OpenAI: `{"error":{"message","type","param","code"}}`; a 429 whose code (or type) is
 * `insufficient_quota` means the account's credit is gone, not a rate limit. Azure OpenAI uses the
 * same envelope with Azure codes (`"401"`, `"429"`, `DeploymentNotFound`, `content_filter` with an
 * `innererror`), and sometimes a `status` field. Proxies in front of compatible servers may answer
 * with HTML or plain text, so anything unparseable is kept as a short message.
 */
import { mapUpstreamError, parseRetryAfter } from '../errors.js';
import type { UpstreamErrorInfo } from '../types.js';
import { isRecord, str, tryParseJson } from './json.js';

type Headers = Record<string, string | string[] | undefined>;

/** What an OpenAI-shaped error body says. */
export interface OpenAIErrorFields {
  message?: string;
  type?: string;
  code?: string;
  param?: string | null;
  /** Azure: `innererror.code`, e.g. `ResponsibleAIPolicyViolation`. */
  innerCode?: string;
}

const MAX_MESSAGE = 500;

/** Read `{"error":{...}}` (or `{"error":"text"}`, or `{"message":...}`), else the raw text. */
export function parseOpenAIErrorBody(bodyText: string): OpenAIErrorFields {
  const json = tryParseJson(bodyText);
  const e = isRecord(json) ? (isRecord(json.error) ? json.error : json) : undefined;
  if (!e) {
    const text = bodyText.trim();
    return text ? { message: text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}...` : text } : {};
  }
  if (isRecord(json) && typeof json.error === 'string') return { message: json.error };
  const code = typeof e.code === 'number' ? String(e.code) : str(e.code);
  const out: OpenAIErrorFields = {};
  const message = str(e.message);
  if (message !== undefined) out.message = message;
  const type = str(e.type);
  if (type !== undefined) out.type = type;
  if (code !== undefined) out.code = code;
  if (typeof e.param === 'string') out.param = e.param;
  if (isRecord(e.innererror) && typeof e.innererror.code === 'string') out.innerCode = e.innererror.code;
  return out;
}

/** Case-insensitive header read (the gateway passes Node's lower-cased headers, tests may not). */
export function header(headers: Headers, name: string): string | undefined {
  const direct = headers[name];
  const v = direct !== undefined ? direct : Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(v) ? v[0] : v;
}

/** Seconds to wait: OpenAI and Azure send `retry-after-ms` (more precise) and/or `retry-after`. */
export function retryAfterSeconds(headers: Headers): number | undefined {
  const ms = Number(header(headers, 'retry-after-ms'));
  if (header(headers, 'retry-after-ms') !== undefined && Number.isFinite(ms) && ms >= 0) return Math.ceil(ms / 1000);
  return parseRetryAfter(header(headers, 'retry-after'));
}

/** OpenAI's 401 message quotes part of the key ("Incorrect API key provided: sk-proj-****abcd");
 *  the provider account's key is not the caller's to see, even masked. */
export function redactSecrets(message: string): string {
  return message.replace(/\b(?:sk|rk|pk|sess)-[A-Za-z0-9_*.-]{4,}/g, '[redacted]');
}

/** Build the `ProviderAdapter.error` function for an OpenAI-shaped provider. */
export function createOpenAIErrorMapper(provider: string) {
  return (status: number, bodyText: string, headers: Headers): UpstreamErrorInfo => {
    const f = parseOpenAIErrorBody(bodyText);
    const quota = status === 429 && (f.code === 'insufficient_quota' || f.type === 'insufficient_quota');
    let message = f.message ? redactSecrets(f.message) : undefined;
    // Azure content filtering is a 400 whose reason is only in the codes; keep it visible.
    if (f.code === 'content_filter' || f.innerCode === 'ResponsibleAIPolicyViolation') {
      message = `content_filter: ${message ?? 'the request was blocked by the content filter'}`;
    }
    const retryAfter = retryAfterSeconds(headers);
    return mapUpstreamError(provider, status, message, {
      quota,
      ...(retryAfter !== undefined ? { retryAfter } : {}),
      param: f.param ?? null,
    });
  };
}
