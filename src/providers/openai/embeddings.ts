/**
 * OpenAI embeddings: pass-through with `model` replaced. Also used by Azure OpenAI and by Ollama's
 * OpenAI-compatible `/v1/embeddings`, which answer in the same shape.
 */
import { ApiError } from '../../errors.js';
import type { CreateEmbeddingResponse, EmbeddingsTranslator, ProviderAccount, TranslateContext } from '../types.js';
import { JSON_HEADERS } from './api.js';
import { isRecord } from './json.js';
import { normalizeOpenAIUsage, zeroUsage } from './usage.js';

/** The EmbeddingsTranslator for an OpenAI-shaped embeddings endpoint at `url(account, ctx)`. */
export function createOpenAIEmbeddings(
  provider: string,
  url: (account: ProviderAccount, ctx: TranslateContext) => string,
): EmbeddingsTranslator {
  return {
    request(req, account, ctx) {
      return {
        method: 'POST',
        url: url(account, ctx),
        headers: { ...JSON_HEADERS },
        body: JSON.stringify({ ...req, model: ctx.upstreamModel }),
      };
    },
    response(json) {
      if (!isRecord(json) || !Array.isArray(json.data)) {
        throw new ApiError('upstream_error', `${provider}: the response is not an embeddings list`);
      }
      // Checked above: an object with a `data` list, passed through as sent.
      const body = json as unknown as CreateEmbeddingResponse;
      return { body, usage: normalizeOpenAIUsage(json.usage) ?? zeroUsage() };
    },
  };
}
