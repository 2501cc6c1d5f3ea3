/**
 * Ollama endpoint and auth. A local Ollama has no auth; Ollama's hosted API (and proxies in front
 * of a local one) take `Authorization: Bearer KEY`, sent only when the account has a key.
 */
import { trimBase } from '../openai/api.js';
import type { ProviderAccount } from '../types.js';

export const OLLAMA_DEFAULT_BASE_URL = 'http://127.0.0.1:11434';

/** The account's base URL (a bare host, no `/api` or `/v1`), or the local default. */
export function ollamaBase(account: ProviderAccount): string {
  return trimBase(account.baseUrl || OLLAMA_DEFAULT_BASE_URL);
}

/** Bearer auth when a key is configured, else nothing. */
export function ollamaAuth(account: ProviderAccount): Record<string, string> {
  return account.apiKey ? { authorization: `Bearer ${account.apiKey}` } : {};
}
