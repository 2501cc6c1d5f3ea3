/**
 * Ollama `/api/chat` response -> OpenAI chat completion, plus the pieces the stream translator
 * shares: reading an untrusted response object, tool-call ids, finish reasons and usage.
 *
 * Quirks: Ollama gives tool calls no id (newer servers may), so Backbone makes stable ones from
 * the request id and the call's position; `done_reason` is `stop` even when the model called
 * tools, so tool calls decide `tool_calls`; `prompt_eval_count` is omitted when the whole prompt
 * came from Ollama's cache (counted as 0, the best the API offers).
 */
import { ApiError } from '../../errors.js';
import { isRecord, num, str } from '../openai/json.js';
import type { ChatCompletion, ChatResult, NormalizedUsage, TranslateContext } from '../types.js';
import type { OllamaChatChunk, OllamaToolCall } from './wire.js';

/** Narrow one Ollama response object (a whole answer or one NDJSON line). */
export function readOllamaChunk(json: unknown): OllamaChatChunk | undefined {
  if (!isRecord(json)) return undefined;
  const chunk: OllamaChatChunk = {
    done: json.done === true,
    prompt_eval_count: num(json.prompt_eval_count),
    eval_count: num(json.eval_count),
  };
  const model = str(json.model);
  if (model !== undefined) chunk.model = model;
  const reason = str(json.done_reason);
  if (reason !== undefined) chunk.done_reason = reason;
  if (typeof json.error === 'string') chunk.error = json.error;
  else if (isRecord(json.error)) chunk.error = str(json.error.message) ?? 'unknown error';
  const m = json.message;
  if (isRecord(m)) {
    const message: NonNullable<OllamaChatChunk['message']> = { content: str(m.content) ?? '', tool_calls: readToolCalls(m.tool_calls) };
    const role = str(m.role);
    if (role !== undefined) message.role = role;
    const thinking = str(m.thinking);
    if (thinking !== undefined) message.thinking = thinking;
    chunk.message = message;
  }
  return chunk;
}

function readToolCalls(v: unknown): OllamaToolCall[] {
  if (!Array.isArray(v)) return [];
  const calls: OllamaToolCall[] = [];
  for (const c of v) {
    if (!isRecord(c) || !isRecord(c.function)) continue;
    const name = str(c.function.name);
    if (name === undefined) continue;
    const args = c.function.arguments;
    const call: OllamaToolCall = { function: { name, arguments: isRecord(args) ? args : {} } };
    const id = str(c.id);
    if (id) call.id = id;
    calls.push(call);
  }
  return calls;
}

/** The OpenAI id for the n-th tool call of a response: Ollama's own when it sent one, else a
 *  stable one from the request id (the same on every retry of the same translation). */
export function toolCallId(call: OllamaToolCall, ctx: TranslateContext, n: number): string {
  if (call.id) return call.id;
  return `call_${ctx.requestId.replace(/[^A-Za-z0-9]/g, '')}_${n}`;
}

/** `chatcmpl-...` id for a provider without one. */
export function completionId(ctx: TranslateContext): string {
  return ctx.requestId.startsWith('chatcmpl-') ? ctx.requestId : `chatcmpl-${ctx.requestId}`;
}

/** OpenAI finish_reason from Ollama's `done_reason` and whether the answer called tools. */
export function finishReasonOf(doneReason: string | undefined, calledTools: boolean): 'stop' | 'length' | 'tool_calls' {
  if (doneReason === 'length') return 'length';
  return calledTools ? 'tool_calls' : 'stop';
}

/** Ollama counts -> NormalizedUsage (no cache or reasoning breakdown; thinking is in eval_count). */
export function ollamaUsage(chunk: OllamaChatChunk): NormalizedUsage {
  return { promptTokens: chunk.prompt_eval_count, completionTokens: chunk.eval_count, cachedTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
}

/** Translate a non-streaming `/api/chat` answer. */
export function fromOllamaChatResponse(json: unknown, ctx: TranslateContext): ChatResult {
  const chunk = readOllamaChunk(json);
  if (!chunk || chunk.error !== undefined || !chunk.message) {
    throw new ApiError('upstream_error', `ollama: ${chunk?.error ?? 'the response is not a chat answer'}`);
  }
  const calls = chunk.message.tool_calls;
  const message: ChatCompletion.Choice['message'] = {
    role: 'assistant',
    content: calls.length > 0 && chunk.message.content === '' ? null : chunk.message.content,
    refusal: null,
  };
  if (calls.length > 0) {
    message.tool_calls = calls.map((c, n) => ({
      id: toolCallId(c, ctx, n),
      type: 'function' as const,
      function: { name: c.function.name, arguments: JSON.stringify(c.function.arguments) },
    }));
  }
  const usage = ollamaUsage(chunk);
  const body: ChatCompletion = {
    id: completionId(ctx),
    object: 'chat.completion',
    created: ctx.created,
    model: ctx.requestedModel,
    choices: [{ index: 0, message, finish_reason: finishReasonOf(chunk.done_reason, calls.length > 0), logprobs: null }],
    usage: { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: usage.promptTokens + usage.completionTokens },
  };
  return { body, usage };
}
