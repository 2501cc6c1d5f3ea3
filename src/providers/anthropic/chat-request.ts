/**
 * OpenAI chat completion request -> Anthropic Messages request (pure).
 *
 * Not forwarded, because Anthropic has no equivalent: frequency_penalty, presence_penalty,
 * logit_bias, logprobs/top_logprobs (the response says `logprobs: null`), seed, store, metadata,
 * service_tier, prediction, prompt_cache_key, verbosity, web_search_options.
 */
import type {
  ChatCompletionCreateParams,
  ChatCompletionTool,
  ChatCompletionToolChoiceOption,
} from 'openai/resources/chat/completions';
import type { ReasoningEffort } from 'openai/resources/shared';
import { AnthropicTranslationError } from './error.js';
import { toAnthropicConversation } from './messages.js';
import type { AnthropicRequest, AnthropicTextBlock, AnthropicTool, AnthropicToolChoice } from './wire.js';

const invalid = AnthropicTranslationError.invalidRequest;

/** Anthropic requires `max_tokens`; OpenAI clients often omit it. */
export const DEFAULT_MAX_TOKENS = 4096;

/** Anthropic's smallest accepted thinking budget. */
const MIN_THINKING_BUDGET = 1024;

/**
 * `reasoning_effort` -> extended-thinking budget. Anthropic asks for a token budget, OpenAI for a
 * level; these budgets are Backbone's choice. `none` (or an unknown level) turns thinking off.
 */
const THINKING_BUDGET: Partial<Record<NonNullable<ReasoningEffort>, number>> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 16384,
  xhigh: 32768,
  max: 32768,
};

/**
 * `response_format` choice: Anthropic has no JSON mode outside a beta, so json_object and json_schema
 * add an explicit instruction (with the schema) at the end of the system prompt. The model is then
 * *asked*, not constrained: the output is not validated against the schema.
 */
export function jsonInstruction(format: ChatCompletionCreateParams['response_format']): string | undefined {
  if (!format || format.type === 'text') return undefined;
  const tail = 'Reply with the JSON only: no prose before or after it, and no Markdown code fence.';
  if (format.type === 'json_object') return `Respond with a single valid JSON object. ${tail}`;
  const { name, description, schema } = format.json_schema;
  const about = description ? ` (${description})` : '';
  return `Respond with a single valid JSON value that conforms to the JSON Schema "${name}"${about} below. ${tail}\n\n${JSON.stringify(schema ?? {})}`;
}

/** System blocks -> Anthropic `system`: one string, unless a cache breakpoint needs the blocks. */
function toSystem(blocks: AnthropicTextBlock[]): AnthropicRequest['system'] {
  if (blocks.length === 0) return undefined;
  if (blocks.some((b) => b.cache_control)) return blocks;
  return blocks.map((b) => b.text).join('\n\n');
}

function toTools(tools: ChatCompletionTool[]): AnthropicTool[] {
  return tools.map((t, i) => {
    if (t.type !== 'function') throw invalid('Anthropic models support function tools only', `tools[${i}].type`);
    const fn = t.function;
    // `strict` has no equivalent outside a beta; the schema itself is forwarded unchanged.
    const tool: AnthropicTool = { name: fn.name, input_schema: fn.parameters ?? { type: 'object', properties: {} } };
    if (fn.description) tool.description = fn.description;
    return tool;
  });
}

/** The tool names an `allowed_tools` choice keeps (entries shaped `{type:'function', function:{name}}`). */
function allowedNames(entries: Array<{ [key: string]: unknown }>): Set<string> {
  const names = new Set<string>();
  for (const e of entries) {
    const fn = e['function'];
    if (typeof fn === 'object' && fn !== null && 'name' in fn && typeof fn.name === 'string') names.add(fn.name);
  }
  return names;
}

function toToolChoice(choice: ChatCompletionToolChoiceOption | undefined, parallel: boolean | undefined): AnthropicToolChoice | undefined {
  // Anthropic puts "one tool call at most" inside tool_choice; OpenAI has it as parallel_tool_calls.
  const noParallel = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined) return parallel === false ? { type: 'auto', ...noParallel } : undefined;
  if (choice === 'none') return { type: 'none' };
  if (choice === 'auto') return { type: 'auto', ...noParallel };
  if (choice === 'required') return { type: 'any', ...noParallel };
  if (choice.type === 'function') return { type: 'tool', name: choice.function.name, ...noParallel };
  if (choice.type === 'allowed_tools') return { type: choice.allowed_tools.mode === 'required' ? 'any' : 'auto', ...noParallel };
  throw invalid('Anthropic models support function tools only', 'tool_choice');
}

function maxTokensAndThinking(req: ChatCompletionCreateParams): Pick<AnthropicRequest, 'max_tokens' | 'thinking'> {
  const explicit = req.max_completion_tokens ?? req.max_tokens ?? undefined;
  const target = req.reasoning_effort ? THINKING_BUDGET[req.reasoning_effort] : undefined;
  if (target === undefined) return { max_tokens: explicit ?? DEFAULT_MAX_TOKENS };
  // Both APIs count thinking inside the output limit, and Anthropic wants budget < max_tokens.
  if (explicit === undefined) return { max_tokens: DEFAULT_MAX_TOKENS + target, thinking: { type: 'enabled', budget_tokens: target } };
  const budget = Math.min(target, explicit - 1);
  // Too small a limit for Anthropic's minimum budget: answer without thinking rather than fail.
  if (budget < MIN_THINKING_BUDGET) return { max_tokens: explicit };
  return { max_tokens: explicit, thinking: { type: 'enabled', budget_tokens: budget } };
}

/** Translate a chat completion request for `upstreamModel`. Throws `AnthropicTranslationError` (400)
 *  for what Anthropic cannot do. */
export function toAnthropicRequest(req: ChatCompletionCreateParams, upstreamModel: string): AnthropicRequest {
  if (req.n != null && req.n > 1) throw invalid('Anthropic models return one choice per request: n must be 1', 'n');
  if (req.audio || req.modalities?.includes('audio')) throw invalid('Anthropic models do not produce audio', 'modalities');
  if (req.functions || req.function_call) throw invalid('legacy functions are not supported; use tools', 'functions');

  const conversation = toAnthropicConversation(req.messages);
  const instruction = jsonInstruction(req.response_format);
  const system = instruction ? [...conversation.system, { type: 'text' as const, text: instruction }] : conversation.system;

  const out: AnthropicRequest = { model: upstreamModel, messages: conversation.messages, ...maxTokensAndThinking(req) };
  const sys = toSystem(system);
  if (sys !== undefined) out.system = sys;
  if (req.temperature != null) out.temperature = req.temperature;
  if (req.top_p != null) out.top_p = req.top_p;
  if (req.stop != null) {
    const stops = (typeof req.stop === 'string' ? [req.stop] : req.stop).filter((s) => s !== '');
    if (stops.length > 0) out.stop_sequences = stops;
  }
  // Anthropic's metadata.user_id is the end-user id for abuse detection, like OpenAI's user /
  // safety_identifier.
  const user = req.user || req.safety_identifier;
  if (user) out.metadata = { user_id: user };
  if (req.stream) out.stream = true;

  let tools = req.tools ?? [];
  if (typeof req.tool_choice === 'object' && req.tool_choice.type === 'allowed_tools') {
    const keep = allowedNames(req.tool_choice.allowed_tools.tools);
    tools = tools.filter((t) => t.type === 'function' && keep.has(t.function.name));
  }
  if (tools.length > 0) {
    out.tools = toTools(tools);
    const choice = toToolChoice(req.tool_choice, req.parallel_tool_calls);
    if (choice) out.tool_choice = choice;
  }
  return out;
}
