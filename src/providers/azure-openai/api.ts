/**
 * Azure OpenAI endpoints and auth. Dated API versions address a *deployment*:
 * `{endpoint}/openai/deployments/{deployment}/{op}?api-version={v}`, where the deployment is the
 * upstream model name; the `model` in the body is ignored. Auth is the `api-key` header.
 * Without `api-version` Azure answers 404 "Resource not found", so it is always sent.
 * The newer `v1` API (`apiVersion: 'v1'`) is OpenAI's own path shape under `{endpoint}/openai/v1`
 * with the deployment name as `model`.
 */
import { trimBase, type OpenAIOperation } from '../openai/api.js';
import type { ProviderAccount, TranslateContext } from '../types.js';

/** The GA data-plane version Backbone defaults to (supports `stream_options`). */
export const AZURE_DEFAULT_API_VERSION = '2024-10-21';

/** The api-version for this account. */
export function azureApiVersion(account: ProviderAccount): string {
  return account.apiVersion || AZURE_DEFAULT_API_VERSION;
}

/** The resource endpoint `https://NAME.openai.azure.com`, tolerating a trailing `/` or `/openai`.
 *  There is no default: every Azure resource has its own host. */
export function azureEndpoint(account: ProviderAccount): string {
  if (!account.baseUrl) throw new Error('azure-openai: the account has no endpoint (AZURE_OPENAI_ENDPOINT)');
  const base = trimBase(account.baseUrl);
  return base.endsWith('/openai') ? base.slice(0, -'/openai'.length) : base;
}

/** True for the `v1` API, which has no deployments in the path and no dated version. */
export function isV1(account: ProviderAccount): boolean {
  return azureApiVersion(account) === 'v1';
}

/** The URL of one operation for one request's deployment. */
export function azureOperationUrl(account: ProviderAccount, ctx: TranslateContext, op: OpenAIOperation): string {
  const endpoint = azureEndpoint(account);
  if (isV1(account)) return `${endpoint}/openai/v1/${op}`;
  const deployment = encodeURIComponent(ctx.upstreamModel);
  return `${endpoint}/openai/deployments/${deployment}/${op}?api-version=${encodeURIComponent(azureApiVersion(account))}`;
}

/** The models list (the probe). */
export function azureModelsUrl(account: ProviderAccount): string {
  const endpoint = azureEndpoint(account);
  if (isV1(account)) return `${endpoint}/openai/v1/models`;
  return `${endpoint}/openai/models?api-version=${encodeURIComponent(azureApiVersion(account))}`;
}

/** `stream_options` arrived in 2024-09-01-preview; older versions reject it with a 400
 *  ("Unrecognized request argument"), so streams on them carry no usage. ISO dates compare as
 *  strings, and `v1` sorts after every date. */
export function azureSupportsStreamUsage(account: ProviderAccount): boolean {
  return azureApiVersion(account) >= '2024-09-01';
}

/** `api-key: KEY` */
export function azureAuth(account: ProviderAccount): Record<string, string> {
  return account.apiKey ? { 'api-key': account.apiKey } : {};
}
