/**
 * Where and how to call Anthropic: base URL (a bare host, as in Anthropic's own SDKs), API version
 * header and API-key auth.
 */
import type { ProviderAccount, UpstreamCall } from '../types.js';

/** Used when the account has no `baseUrl` (`ANTHROPIC_BASE_URL` is a bare host too). */
export const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';

/** The Messages API version Backbone's translators are written against. */
export const ANTHROPIC_VERSION = '2023-06-01';

/** The account's base URL without trailing slashes. A trailing `/v1` (an OpenAI-style habit) is
 *  dropped too, so `https://api.anthropic.com/v1` does not become `/v1/v1/messages`. */
export function anthropicBase(account: ProviderAccount): string {
  const base = (account.baseUrl ?? ANTHROPIC_DEFAULT_BASE_URL).replace(/\/+$/, '');
  return base.replace(/\/v1$/, '');
}

/** Headers every Anthropic call needs besides auth. */
export function anthropicHeaders(): Record<string, string> {
  return { 'anthropic-version': ANTHROPIC_VERSION, 'content-type': 'application/json' };
}

/** Anthropic authenticates with `x-api-key`, not `Authorization: Bearer`. Without a key nothing is
 *  sent, and Anthropic's 401 becomes a 502 "rejected the provider credentials". */
export function anthropicAuthHeaders(account: ProviderAccount): Record<string, string> {
  return account.apiKey ? { 'x-api-key': account.apiKey } : {};
}

/** `POST {base}/v1/messages` with a JSON body. */
export function messagesCall(account: ProviderAccount, body: string): UpstreamCall {
  return { method: 'POST', url: `${anthropicBase(account)}/v1/messages`, headers: anthropicHeaders(), body };
}

/** The credential check: `GET {base}/v1/models?limit=1` is authenticated and costs no tokens. */
export function probeCall(account: ProviderAccount): UpstreamCall {
  return { method: 'GET', url: `${anthropicBase(account)}/v1/models?limit=1`, headers: { 'anthropic-version': ANTHROPIC_VERSION } };
}
