/**
 * The `anthropic` provider: Claude through Anthropic's Messages API, spoken to clients as OpenAI's
 * chat completions. Chat only: Anthropic has no embeddings or transcription endpoint.
 */
import type { ProviderAdapter } from '../types.js';
import { ANTHROPIC_DEFAULT_BASE_URL, anthropicAuthHeaders, messagesCall, probeCall } from './api.js';
import { toAnthropicRequest } from './chat-request.js';
import { fromAnthropicResponse } from './chat-response.js';
import { anthropicStream } from './chat-stream.js';
import { mapAnthropicError } from './error.js';

/** The adapter registered under `anthropic` in the provider registry. */
export const anthropicAdapter: ProviderAdapter = {
  name: 'anthropic',
  defaultBaseUrl: ANTHROPIC_DEFAULT_BASE_URL,
  chat: {
    streamFormat: 'sse',
    // Anthropic streams always report usage (message_start + message_delta): nothing to ask for.
    request: (req, account, ctx) => messagesCall(account, JSON.stringify(toAnthropicRequest(req, ctx.upstreamModel))),
    response: fromAnthropicResponse,
    stream: anthropicStream,
  },
  authHeaders: anthropicAuthHeaders,
  error: mapAnthropicError,
  probe: probeCall,
};

export { AnthropicTranslationError, mapAnthropicError, mapAnthropicStreamError } from './error.js';
export { toAnthropicRequest } from './chat-request.js';
export { fromAnthropicResponse } from './chat-response.js';
export { AnthropicStreamTranslator, anthropicStream } from './chat-stream.js';
