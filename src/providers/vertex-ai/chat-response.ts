/**
 * Gemini `GenerateContentResponse` -> OpenAI `chat.completion`. Pure.
 *
 * - One choice per candidate; text parts joined (parts with `thought: true` are thinking summaries
 *   and never content); `functionCall` parts become `tool_calls` (ids from tool-call-id.ts).
 * - finishReason: STOP -> `stop`, or `tool_calls` when the candidate calls functions; MAX_TOKENS ->
 *   `length`; the safety family -> `content_filter`; anything else -> `stop`.
 * - A blocked prompt (`promptFeedback.blockReason`, no candidates) is answered 200 with one empty
 *   choice and `finish_reason: "content_filter"`, like OpenAI reports its own output filtering:
 *   the OpenAI SDK raises nothing, the client sees why nothing came back, and the prompt tokens
 *   Google still bills are metered.
 * - Usage: Gemini's promptTokenCount already includes cached tokens (as OpenAI's prompt_tokens
 *   does); tool-use prompt tokens are input too; completion = candidates + thoughts (OpenAI counts
 *   reasoning inside completion_tokens, Gemini reports thoughts apart).
 */
import { ApiError } from '../../errors.js';
import type { ChatCompletion, ChatResult, NormalizedUsage, TranslateContext } from '../types.js';
import { streamErrorBody } from './error.js';
import { makeToolCallId } from './tool-call-id.js';
import type { GeminiCandidate, GeminiUsageMetadata } from './wire.js';
import { findGoogleError, narrowGenerateContentResponse } from './wire.js';

export type FinishReason = ChatCompletion.Choice['finish_reason'];
type ToolCall = NonNullable<ChatCompletion.Choice['message']['tool_calls']>[number];

const FILTERED = new Set([
  'SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

/** Map Gemini's finishReason (peers get MAX_TOKENS wrong: it must be `length`). */
export function mapFinishReason(reason: string | undefined, hasToolCalls: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (reason && FILTERED.has(reason)) return 'content_filter';
  return hasToolCalls ? 'tool_calls' : 'stop';
}

/** Gemini usageMetadata in OpenAI's semantics. */
export function normalizeUsage(u: GeminiUsageMetadata): NormalizedUsage {
  return {
    promptTokens: u.promptTokenCount + u.toolUsePromptTokenCount,
    completionTokens: u.candidatesTokenCount + u.thoughtsTokenCount,
    cachedTokens: u.cachedContentTokenCount,
    cacheWriteTokens: 0,
    reasoningTokens: u.thoughtsTokenCount,
  };
}

/** The `usage` object of an OpenAI response. */
export function openAiUsage(u: NormalizedUsage): NonNullable<ChatCompletion['usage']> {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens },
    completion_tokens_details: { reasoning_tokens: u.reasoningTokens },
  };
}

/** `chatcmpl-<requestId>` (the request id is used as is when it already has the prefix). */
export function completionId(ctx: TranslateContext): string {
  return ctx.requestId.startsWith('chatcmpl-') ? ctx.requestId : `chatcmpl-${ctx.requestId}`;
}

/** Visible text of a candidate's parts, or undefined when it has none. */
export function visibleText(c: GeminiCandidate): string | undefined {
  const texts = c.parts.filter((p) => p.text !== undefined && !p.thought).map((p) => p.text!);
  return texts.length ? texts.join('') : undefined;
}

function toolCalls(c: GeminiCandidate, ctx: TranslateContext): ToolCall[] {
  return c.parts
    .filter((p) => p.functionCall)
    .map((p, n) => ({
      id: makeToolCallId(ctx.requestId, c.index, n, p.thoughtSignature),
      type: 'function' as const,
      function: { name: p.functionCall!.name, arguments: JSON.stringify(p.functionCall!.args ?? {}) },
    }));
}

function toChoice(c: GeminiCandidate, ctx: TranslateContext): ChatCompletion.Choice {
  const calls = toolCalls(c, ctx);
  const text = visibleText(c);
  const message: ChatCompletion.Choice['message'] = {
    role: 'assistant',
    // OpenAI: null content when the answer is only tool calls (or was filtered away), '' otherwise.
    content: text ?? (calls.length || FILTERED.has(c.finishReason ?? '') ? null : ''),
    refusal: null,
  };
  if (calls.length) message.tool_calls = calls;
  return { index: c.index, message, finish_reason: mapFinishReason(c.finishReason, calls.length > 0), logprobs: null };
}

/** Translate a successful non-streaming generateContent body. */
export function fromGeminiResponse(json: unknown, ctx: TranslateContext): ChatResult {
  const err = findGoogleError(json);
  if (err) {
    const body = streamErrorBody(err);
    throw new ApiError(body.code === 'invalid_request' ? 'invalid_request' : 'upstream_error', body.message);
  }
  const res = narrowGenerateContentResponse(json);
  const usage = normalizeUsage(res.usage ?? {
    promptTokenCount: 0, candidatesTokenCount: 0, cachedContentTokenCount: 0, thoughtsTokenCount: 0, toolUsePromptTokenCount: 0,
  });
  const choices = res.candidates.length
    ? res.candidates.map((c) => toChoice(c, ctx)).sort((a, b) => a.index - b.index)
    : [{
      index: 0,
      message: { role: 'assistant' as const, content: res.blockReason ? null : '', refusal: null },
      finish_reason: res.blockReason ? 'content_filter' as const : 'stop' as const,
      logprobs: null,
    }];
  const body: ChatCompletion = {
    id: completionId(ctx),
    object: 'chat.completion',
    created: ctx.created,
    model: ctx.requestedModel,
    choices,
    usage: openAiUsage(usage),
  };
  return { body, usage };
}
