/**
 * Anthropic usage -> OpenAI semantics. The classic gateway bug lives here: Anthropic's
 * `input_tokens` EXCLUDES cache reads and cache writes, while OpenAI's `prompt_tokens` INCLUDES
 * cached input. Reporting `input_tokens` as `prompt_tokens` under-counts cached prompts, and
 * pricing cache reads at the full rate over-counts cost (peers' reports were 4x off).
 */
import type { CompletionUsage } from 'openai/resources/completions';
import type { NormalizedUsage } from '../types.js';
import type { AnthropicUsage } from './wire.js';

/** Normalise Anthropic's usage. Missing fields count as 0. */
export function normalizeUsage(u: Partial<AnthropicUsage>): NormalizedUsage {
  const cacheRead = u.cache_read_input_tokens ?? 0;
  const cacheWrite = u.cache_creation_input_tokens ?? 0;
  return {
    promptTokens: (u.input_tokens ?? 0) + cacheRead + cacheWrite,
    // Anthropic's output_tokens already include thinking tokens, as OpenAI's completion_tokens do.
    completionTokens: u.output_tokens ?? 0,
    cachedTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    // Anthropic does not report how many output tokens were thinking: unknown, reported as 0.
    reasoningTokens: 0,
  };
}

/** The `usage` object of an OpenAI response or final stream chunk. */
export function toOpenAIUsage(n: NormalizedUsage): CompletionUsage {
  return {
    prompt_tokens: n.promptTokens,
    completion_tokens: n.completionTokens,
    total_tokens: n.promptTokens + n.completionTokens,
    // cache_write_tokens is OpenAI's field for prompt tokens written to cache; shown only when non-zero.
    prompt_tokens_details: n.cacheWriteTokens > 0
      ? { cached_tokens: n.cachedTokens, cache_write_tokens: n.cacheWriteTokens }
      : { cached_tokens: n.cachedTokens },
    // Omitted when 0: for Anthropic that means "not reported", and claiming 0 would be false.
    ...(n.reasoningTokens > 0 ? { completion_tokens_details: { reasoning_tokens: n.reasoningTokens } } : {}),
  };
}
