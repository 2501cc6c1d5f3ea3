/**
 * Anthropic message -> OpenAI `chat.completion` (pure). Text blocks are concatenated into
 * `content`; `tool_use` blocks become `tool_calls`; thinking blocks are dropped (their tokens are
 * already inside `output_tokens`, so nothing extra is counted).
 */
import type { ChatCompletionMessageFunctionToolCall } from 'openai/resources/chat/completions';
import type { ChatResult, TranslateContext } from '../types.js';
import { toFinishReason } from './finish-reason.js';
import { completionId } from './ids.js';
import { parseMessage } from './parse.js';
import { normalizeUsage, toOpenAIUsage } from './usage.js';

/** Translate a successful (2xx) non-streaming body. Throws `AnthropicTranslationError` (502) when
 *  the body is not a message. */
export function fromAnthropicResponse(json: unknown, ctx: TranslateContext): ChatResult {
  const msg = parseMessage(json);
  const texts: string[] = [];
  const toolCalls: ChatCompletionMessageFunctionToolCall[] = [];
  for (const block of msg.content) {
    if (block.type === 'text') texts.push(block.text);
    else if (block.type === 'tool_use') {
      toolCalls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    }
    // thinking / redacted_thinking: OpenAI's chat API has no place for them.
  }
  const usage = normalizeUsage(msg.usage);
  // Like OpenAI: content is null when the answer is only tool calls.
  const content = texts.length === 0 && toolCalls.length > 0 ? null : texts.join('');
  return {
    usage,
    body: {
      id: completionId(msg.id, ctx),
      object: 'chat.completion',
      created: ctx.created,
      model: ctx.requestedModel,
      choices: [{
        index: 0,
        message: { role: 'assistant', content, refusal: null, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) },
        finish_reason: toFinishReason(msg.stop_reason),
        logprobs: null,
      }],
      usage: toOpenAIUsage(usage),
    },
  };
}
