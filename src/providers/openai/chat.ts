/**
 * OpenAI chat completions: a pass-through. The client's body goes upstream with only `model`
 * replaced (and stream usage switched on); the response body comes back unchanged. The same
 * translator serves Azure OpenAI, which differs only in URL and auth.
 */
import { ApiError } from '../../errors.js';
import type {
  ChatCompletion,
  ChatCompletionCreateParams,
  ChatResult,
  ChatTranslator,
  ProviderAccount,
  TranslateContext,
  UpstreamCall,
} from '../types.js';
import { JSON_HEADERS, type OperationUrl } from './api.js';
import { isRecord } from './json.js';
import { OpenAIStreamTranslator } from './stream.js';
import { normalizeOpenAIUsage, zeroUsage } from './usage.js';

/** The upstream request body: the client's, with `model` set to the upstream model and, when
 *  streaming with `streamUsage`, `stream_options.include_usage: true` (the gateway meters every
 *  stream, and decides itself whether the client sees the usage chunk). */
export function toOpenAIChatBody(
  req: ChatCompletionCreateParams,
  ctx: TranslateContext,
  streamUsage = true,
): Record<string, unknown> {
  const body: Record<string, unknown> = { ...req, model: ctx.upstreamModel };
  if (req.stream === true && streamUsage) {
    const client: unknown = req.stream_options;
    body.stream_options = { ...(isRecord(client) ? client : {}), include_usage: true };
  }
  return body;
}

/** Narrow a 2xx chat body to a ChatCompletion and read its usage. */
export function fromOpenAIChatResponse(json: unknown, provider: string): ChatResult {
  if (!isRecord(json) || !Array.isArray(json.choices)) {
    throw new ApiError('upstream_error', `${provider}: the response is not a chat completion`);
  }
  // Checked above: an object with `choices`; the rest is passed through as the provider sent it
  // (Azure adds `prompt_filter_results` / `content_filter_results`, which clients ignore).
  const body = json as unknown as ChatCompletion;
  return { body, usage: normalizeOpenAIUsage(json.usage) ?? zeroUsage() };
}

export interface OpenAIChatOptions {
  provider: string;
  url: OperationUrl;
  /** Whether this account's API accepts `stream_options` (old Azure api-versions reject it). */
  streamUsage?: (account: ProviderAccount) => boolean;
}

/** The ChatTranslator for an OpenAI-shaped provider. */
export function createOpenAIChat(opts: OpenAIChatOptions): ChatTranslator {
  return {
    streamFormat: 'sse',
    request(req, account, ctx): UpstreamCall {
      const body = toOpenAIChatBody(req, ctx, opts.streamUsage ? opts.streamUsage(account) : true);
      return {
        method: 'POST',
        url: opts.url(account, ctx, 'chat/completions'),
        headers: { ...JSON_HEADERS },
        body: JSON.stringify(body),
      };
    },
    response: (json) => fromOpenAIChatResponse(json, opts.provider),
    stream: () => new OpenAIStreamTranslator(opts.provider),
  };
}
