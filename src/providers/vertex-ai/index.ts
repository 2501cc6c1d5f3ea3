/**
 * The `vertex-ai` provider: Google Gemini through the Gemini API (API key) or Vertex AI (service
 * account). See api.ts for how the account picks one.
 */
import { ApiError } from '../../errors.js';
import type { ProviderAccount, ProviderAdapter } from '../types.js';
import { GEMINI_API_BASE_URL, modelUrl, postJson, probeCall, resolveEndpoint } from './api.js';
import { createTokenSource, parseServiceAccount, type TokenSourceOptions } from './auth.js';
import { toGeminiRequest } from './chat-request.js';
import { fromGeminiResponse } from './chat-response.js';
import { GeminiStreamTranslator } from './chat-stream.js';
import { fromEmbeddingsResponse, toBatchEmbedRequest, toVertexPredictRequest } from './embeddings.js';
import { mapGoogleError } from './error.js';

export type VertexAiAdapterOptions = TokenSourceOptions;

/**
 * Build a vertex-ai adapter. Each adapter owns its OAuth token cache, so tests (and apps) can
 * build as many as they like; `fetch` and `now` are injectable for the token flow only.
 */
export function createVertexAiAdapter(opts: VertexAiAdapterOptions = {}): ProviderAdapter {
  const tokens = createTokenSource(opts);

  return {
    name: 'vertex-ai',
    defaultBaseUrl: GEMINI_API_BASE_URL,

    chat: {
      streamFormat: 'sse',
      request(req, account, ctx) {
        const method = req.stream ? 'streamGenerateContent' : 'generateContent';
        return postJson(modelUrl(resolveEndpoint(account), ctx.upstreamModel, method), toGeminiRequest(req));
      },
      response: fromGeminiResponse,
      stream: (ctx) => new GeminiStreamTranslator(ctx),
    },

    embeddings: {
      request(req, account, ctx) {
        const ep = resolveEndpoint(account);
        return ep.kind === 'gemini'
          ? postJson(modelUrl(ep, ctx.upstreamModel, 'batchEmbedContents'), toBatchEmbedRequest(req, ctx.upstreamModel))
          : postJson(modelUrl(ep, ctx.upstreamModel, 'predict'), toVertexPredictRequest(req));
      },
      response: fromEmbeddingsResponse,
    },

    async authHeaders(account: ProviderAccount): Promise<Record<string, string>> {
      if (account.serviceAccountJson) {
        const token = await tokens.token(parseServiceAccount(account.serviceAccountJson));
        return { authorization: `Bearer ${token}` };
      }
      if (account.apiKey) return { 'x-goog-api-key': account.apiKey };
      throw new ApiError('upstream_error', 'vertex-ai: the provider account has neither an API key nor a service-account key file');
    },

    error: mapGoogleError,
    probe: probeCall,
  };
}

/** The default adapter (global fetch, real clock). */
export const vertexAiAdapter: ProviderAdapter = createVertexAiAdapter();
