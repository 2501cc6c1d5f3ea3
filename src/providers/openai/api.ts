/**
 * OpenAI endpoint and auth: `{base}/chat/completions` etc. with `Authorization: Bearer KEY`.
 * The base URL includes `/v1`, as in OpenAI's own SDKs (`OPENAI_BASE_URL`), so any
 * OpenAI-compatible server (vLLM, LM Studio, Together, Groq...) works by pointing it there.
 */
import type { ProviderAccount, TranslateContext } from '../types.js';

export const OPENAI_DEFAULT_BASE_URL = 'https://api.openai.com/v1';

/** The OpenAI-shaped operations Backbone forwards. */
export type OpenAIOperation = 'chat/completions' | 'embeddings' | 'audio/transcriptions';

/** Where one operation is sent for one account and request (OpenAI and Azure differ only here,
 *  in auth, and in error details). */
export type OperationUrl = (account: ProviderAccount, ctx: TranslateContext, op: OpenAIOperation) => string;

/** Drop trailing slashes so `base + '/path'` never doubles them. */
export function trimBase(url: string): string {
  let end = url.length;
  while (end > 0 && url.charCodeAt(end - 1) === 47) end--;
  return url.slice(0, end);
}

/** The account's base URL, or OpenAI's. */
export function openaiBase(account: ProviderAccount): string {
  return trimBase(account.baseUrl || OPENAI_DEFAULT_BASE_URL);
}

/** `{base}/{op}` */
export const openaiOperationUrl: OperationUrl = (account, _ctx, op) => `${openaiBase(account)}/${op}`;

/** `Authorization: Bearer KEY` when the account has a key (local compatible servers may not). */
export function bearerAuth(account: ProviderAccount): Record<string, string> {
  return account.apiKey ? { authorization: `Bearer ${account.apiKey}` } : {};
}

export const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'content-type': 'application/json' });
