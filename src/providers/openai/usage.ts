/**
 * OpenAI usage -> NormalizedUsage. OpenAI already counts the way Backbone reports: cached input
 * inside `prompt_tokens` (`prompt_tokens_details.cached_tokens`), reasoning inside
 * `completion_tokens` (`completion_tokens_details.reasoning_tokens`).
 */
import type { NormalizedUsage } from '../types.js';
import { isRecord, num } from './json.js';

/** Normalise an OpenAI `usage` object (chat or embeddings); undefined when there is none. */
export function normalizeOpenAIUsage(usage: unknown): NormalizedUsage | undefined {
  if (!isRecord(usage)) return undefined;
  const prompt = isRecord(usage.prompt_tokens_details) ? usage.prompt_tokens_details : undefined;
  const completion = isRecord(usage.completion_tokens_details) ? usage.completion_tokens_details : undefined;
  return {
    promptTokens: num(usage.prompt_tokens),
    completionTokens: num(usage.completion_tokens),
    cachedTokens: num(prompt?.cached_tokens),
    cacheWriteTokens: 0,
    reasoningTokens: num(completion?.reasoning_tokens),
  };
}

/** All zeros: for a response that reported no usage. */
export function zeroUsage(): NormalizedUsage {
  return { promptTokens: 0, completionTokens: 0, cachedTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
}
