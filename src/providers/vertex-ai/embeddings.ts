/**
 * OpenAI embeddings <-> Gemini embeddings. Pure.
 *
 * - Gemini API: `POST /v1beta/models/{m}:batchEmbedContents` with
 *   `{requests: [{model: "models/{m}", content: {parts: [{text}]}, outputDimensionality?}]}` ->
 *   `{embeddings: [{values}]}`. Quirk: no token counts at all, so usage is reported as zeros
 *   (metering records the call; the Gemini API bills embeddings per input token, which it never reports).
 * - Vertex AI: `POST ...:predict` with `{instances: [{content}], parameters?: {outputDimensionality}}`
 *   -> `{predictions: [{embeddings: {values, statistics: {token_count, truncated}}}]}`; prompt
 *   tokens are the sum of `token_count`. Quirk: `gemini-embedding-001` on Vertex accepts one
 *   instance per request; Vertex answers 400 to more and the client sees that 400.
 *
 * `encoding_format: "base64"` (the OpenAI SDK's default) is not handled here: `response()` does not
 * see the request, so the gateway must encode float arrays when the client asked for base64.
 */
import { invalidRequest } from '../../errors.js';
import type { CreateEmbeddingResponse, EmbeddingCreateParams, NormalizedUsage, TranslateContext } from '../types.js';
import { isRecord } from './wire.js';

/** Input as a list of strings; token-array inputs are OpenAI-tokenizer specific and rejected. */
export function embeddingInputs(input: EmbeddingCreateParams['input']): string[] {
  const list: unknown[] = Array.isArray(input) ? input : [input];
  if (list.length === 0 || !list.every((s): s is string => typeof s === 'string')) {
    throw invalidRequest('vertex-ai embeddings take a string or an array of strings (token arrays are not supported)', 'input');
  }
  return list;
}

/** Gemini API `batchEmbedContents` body. */
export function toBatchEmbedRequest(req: EmbeddingCreateParams, model: string): unknown {
  const name = `models/${model.replace(/^models\//, '')}`;
  return {
    requests: embeddingInputs(req.input).map((text) => ({
      model: name,
      content: { parts: [{ text }] },
      ...(req.dimensions ? { outputDimensionality: req.dimensions } : {}),
    })),
  };
}

/** Vertex AI `predict` body. */
export function toVertexPredictRequest(req: EmbeddingCreateParams): unknown {
  return {
    instances: embeddingInputs(req.input).map((content) => ({ content })),
    ...(req.dimensions ? { parameters: { outputDimensionality: req.dimensions } } : {}),
  };
}

const numbers = (v: unknown): number[] => (Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : []);

/** Translate either API's embeddings response (told apart by `embeddings` vs `predictions`). */
export function fromEmbeddingsResponse(json: unknown, ctx: TranslateContext): { body: CreateEmbeddingResponse; usage: NormalizedUsage } {
  const o = isRecord(json) ? json : {};
  let vectors: number[][];
  let promptTokens = 0;
  if (Array.isArray(o.predictions)) {
    vectors = o.predictions.map((p) => {
      const e = isRecord(p) && isRecord(p.embeddings) ? p.embeddings : {};
      const stats = isRecord(e.statistics) ? e.statistics : {};
      if (typeof stats.token_count === 'number') promptTokens += stats.token_count;
      return numbers(e.values);
    });
  } else {
    const list = Array.isArray(o.embeddings) ? o.embeddings : [];
    vectors = list.map((e) => numbers(isRecord(e) ? e.values : undefined));
  }
  const usage: NormalizedUsage = { promptTokens, completionTokens: 0, cachedTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
  return {
    body: {
      object: 'list',
      data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })),
      model: ctx.requestedModel,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    },
    usage,
  };
}
