/**
 * OpenAI chat messages -> Anthropic `system` + `messages`.
 *
 * Anthropic quirks handled here:
 * - there is no system role inside `messages`: system and developer messages, wherever they are,
 *   become top-level system text (in order);
 * - turns must alternate user/assistant: consecutive same-role turns are merged;
 * - tool results are `tool_result` blocks inside a *user* turn, and must come before any text in it;
 * - tool-call arguments are a JSON object (`input`), not a JSON string;
 * - empty text blocks are rejected, so empty strings are dropped (and turns left empty with them);
 * - messages have no `name`: it is dropped.
 */
import type {
  ChatCompletionAssistantMessageParam,
  ChatCompletionContentPart,
  ChatCompletionContentPartRefusal,
  ChatCompletionContentPartText,
  ChatCompletionMessageParam,
  ChatCompletionToolMessageParam,
} from 'openai/resources/chat/completions';
import { AnthropicTranslationError } from './error.js';
import { isRecord } from './narrow.js';
import type {
  AnthropicAssistantBlock,
  AnthropicCacheControl,
  AnthropicMessageParam,
  AnthropicTextBlock,
  AnthropicToolResultBlock,
  AnthropicUserBlock,
} from './wire.js';

export interface AnthropicConversation {
  /** System and developer messages' text, in order (the caller decides string vs blocks). */
  system: AnthropicTextBlock[];
  messages: AnthropicMessageParam[];
}

const invalid = AnthropicTranslationError.invalidRequest;

/**
 * Cache breakpoints are not part of OpenAI's chat API. Two spellings are honoured on content parts:
 * `cache_control` (Anthropic's own, as Portkey and LiteLLM accept it) and OpenAI's
 * `prompt_cache_breakpoint: {mode: 'explicit'}`.
 */
function cacheControlOf(part: object): AnthropicCacheControl | undefined {
  if (!isRecord(part)) return undefined;
  const cc = part['cache_control'];
  if (isRecord(cc) && cc['type'] === 'ephemeral') {
    const ttl = cc['ttl'];
    return ttl === '5m' || ttl === '1h' ? { type: 'ephemeral', ttl } : { type: 'ephemeral' };
  }
  return isRecord(part['prompt_cache_breakpoint']) ? { type: 'ephemeral' } : undefined;
}

function textBlock(text: string, part?: object): AnthropicTextBlock[] {
  if (text === '') return [];
  const cc = part ? cacheControlOf(part) : undefined;
  return [cc ? { type: 'text', text, cache_control: cc } : { type: 'text', text }];
}

/** Text-only content (system, developer, tool messages). */
export function textBlocks(
  content: string | Array<ChatCompletionContentPartText | ChatCompletionContentPartRefusal> | null | undefined,
): AnthropicTextBlock[] {
  if (content == null) return [];
  if (typeof content === 'string') return textBlock(content);
  return content.flatMap((p) => (p.type === 'text' ? textBlock(p.text, p) : textBlock(p.refusal, p)));
}

/** `data:<media type>[;params];base64,<data>` -> its parts; undefined for anything else. */
function parseDataUrl(url: string): { mediaType: string; data: string } | undefined {
  const m = /^data:([^;,]+)(?:;[^;,]*)*?;base64,/i.exec(url);
  return m ? { mediaType: m[1]!.toLowerCase(), data: url.slice(m[0].length) } : undefined;
}

function userPart(part: ChatCompletionContentPart, param: string): AnthropicUserBlock[] {
  switch (part.type) {
    case 'text':
      return textBlock(part.text, part);
    case 'image_url': {
      const url = part.image_url.url;
      const cc = cacheControlOf(part);
      const extra = cc ? { cache_control: cc } : {};
      const inline = parseDataUrl(url);
      if (inline) return [{ type: 'image', source: { type: 'base64', media_type: inline.mediaType, data: inline.data }, ...extra }];
      if (/^https?:\/\//i.test(url)) return [{ type: 'image', source: { type: 'url', url }, ...extra }];
      throw invalid('image_url must be an http(s) URL or a base64 data URL', `${param}.image_url.url`);
    }
    case 'file': {
      // Anthropic reads PDFs as `document` blocks; OpenAI file ids mean nothing to it.
      const data = part.file.file_data;
      if (!data) throw invalid('Anthropic models accept files only inline as file_data (PDF)', `${param}.file`);
      const inline = parseDataUrl(data);
      if (inline && inline.mediaType !== 'application/pdf') {
        throw invalid(`Anthropic models accept PDF files only, not ${inline.mediaType}`, `${param}.file.file_data`);
      }
      const cc = cacheControlOf(part);
      return [{
        type: 'document',
        source: { type: 'base64', media_type: 'application/pdf', data: inline ? inline.data : data },
        ...(cc ? { cache_control: cc } : {}),
      }];
    }
    case 'input_audio':
      throw invalid('Anthropic models do not accept audio input', `${param}.input_audio`);
    default: {
      const unknown: never = part;
      throw invalid(`unsupported content part ${JSON.stringify((unknown as { type?: unknown }).type)}`, param);
    }
  }
}

function userBlocks(content: string | ChatCompletionContentPart[], param: string): AnthropicUserBlock[] {
  if (typeof content === 'string') return textBlock(content);
  return content.flatMap((p, j) => userPart(p, `${param}.content[${j}]`));
}

/** `arguments` is a JSON string in OpenAI; Anthropic wants the object. An empty string means `{}`. */
function toolInput(args: string, param: string): Record<string, unknown> {
  if (args.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw invalid('tool call arguments are not valid JSON', param);
  }
  if (!isRecord(parsed)) throw invalid('tool call arguments must be a JSON object', param);
  return parsed;
}

function assistantBlocks(m: ChatCompletionAssistantMessageParam, param: string): AnthropicAssistantBlock[] {
  if (m.function_call) throw invalid('legacy function_call is not supported; use tool_calls', `${param}.function_call`);
  const blocks: AnthropicAssistantBlock[] = textBlocks(m.content);
  (m.tool_calls ?? []).forEach((call, j) => {
    const p = `${param}.tool_calls[${j}]`;
    if (call.type !== 'function') throw invalid('only function tool calls are supported by Anthropic models', `${p}.type`);
    blocks.push({ type: 'tool_use', id: call.id, name: call.function.name, input: toolInput(call.function.arguments, `${p}.function.arguments`) });
  });
  return blocks;
}

function toolResult(m: ChatCompletionToolMessageParam, param: string): AnthropicToolResultBlock {
  if (!m.tool_call_id) throw invalid('tool messages need a tool_call_id', `${param}.tool_call_id`);
  const blocks = textBlocks(m.content);
  if (blocks.length === 0) return { type: 'tool_result', tool_use_id: m.tool_call_id };
  // One plain text stays a string (the common case, and what Anthropic's docs show).
  const only = blocks.length === 1 && !blocks[0]!.cache_control ? blocks[0]!.text : undefined;
  return { type: 'tool_result', tool_use_id: m.tool_call_id, content: only ?? blocks };
}

/** Append a turn, merging it into the previous one when the role repeats. */
function append(turns: AnthropicMessageParam[], next: AnthropicMessageParam): void {
  if (next.content.length === 0) return;
  const last = turns[turns.length - 1];
  if (last?.role === 'user' && next.role === 'user') last.content.push(...next.content);
  else if (last?.role === 'assistant' && next.role === 'assistant') last.content.push(...next.content);
  else turns.push(next);
}

/** Anthropic rejects a user turn whose text precedes its tool results; keep the order otherwise. */
function toolResultsFirst(turn: AnthropicMessageParam): AnthropicMessageParam {
  if (turn.role !== 'user') return turn;
  const results = turn.content.filter((b) => b.type === 'tool_result');
  if (results.length === 0) return turn;
  return { role: 'user', content: [...results, ...turn.content.filter((b) => b.type !== 'tool_result')] };
}

/** Translate the whole conversation. Throws `AnthropicTranslationError` (400) naming the param. */
export function toAnthropicConversation(messages: ChatCompletionMessageParam[]): AnthropicConversation {
  const system: AnthropicTextBlock[] = [];
  const turns: AnthropicMessageParam[] = [];
  messages.forEach((m, i) => {
    const param = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push(...textBlocks(m.content));
        break;
      case 'user':
        append(turns, { role: 'user', content: userBlocks(m.content, param) });
        break;
      case 'assistant':
        append(turns, { role: 'assistant', content: assistantBlocks(m, param) });
        break;
      case 'tool':
        append(turns, { role: 'user', content: [toolResult(m, param)] });
        break;
      case 'function':
        throw invalid('legacy function messages are not supported; use tool messages', `${param}.role`);
      default: {
        const unknown: never = m;
        throw invalid(`unknown role ${JSON.stringify((unknown as { role?: unknown }).role)}`, `${param}.role`);
      }
    }
  });
  return { system, messages: turns.map(toolResultsFirst) };
}
