/**
 * OpenAI chat request -> Ollama `/api/chat` request.
 *
 * Quirks recorded here:
 * - Ollama streams unless told otherwise, so `stream` is always sent explicitly.
 * - Images are a per-message `images` list of bare base64; only `data:` URLs can be carried
 *   (translators do no I/O, so remote image URLs are rejected with a 400 naming the part).
 * - Tool-call arguments are a JSON *object* in Ollama, a JSON *string* in OpenAI.
 * - Tool results name the function (`tool_name`), which OpenAI only gives via `tool_call_id`;
 *   the name is looked up in the earlier assistant message's tool calls.
 * - Sampling parameters live in `options` (`max_tokens` is `num_predict`); JSON mode and
 *   structured output are `format: "json"` or `format: <schema>`.
 * - There is no `tool_choice`: `none` is honoured by not sending tools; other values are
 *   best effort (the model decides).
 */
import { invalidRequest } from '../../errors.js';
import { isRecord, tryParseJson } from '../openai/json.js';
import type { ChatCompletionCreateParams, TranslateContext } from '../types.js';
import type { OllamaChatRequest, OllamaMessage, OllamaOptions, OllamaTool, OllamaToolCall } from './wire.js';

type OpenAIMessage = ChatCompletionCreateParams['messages'][number];
type ContentPart = Exclude<Extract<OpenAIMessage, { role: 'user' }>['content'], string>[number];

/** Translate a chat request. Throws a 400 ApiError for content Ollama cannot take. */
export function toOllamaChatRequest(req: ChatCompletionCreateParams, ctx: TranslateContext): OllamaChatRequest {
  if (typeof req.n === 'number' && req.n > 1) throw invalidRequest('ollama returns a single choice; n must be 1', 'n');
  const out: OllamaChatRequest = {
    model: ctx.upstreamModel,
    messages: toOllamaMessages(req.messages),
    stream: req.stream === true,
  };
  if (req.tools && req.tools.length > 0 && req.tool_choice !== 'none') out.tools = toOllamaTools(req.tools);
  const format = toOllamaFormat(req.response_format);
  if (format !== undefined) out.format = format;
  const options = toOllamaOptions(req);
  if (options) out.options = options;
  return out;
}

function toOllamaMessages(messages: OpenAIMessage[]): OllamaMessage[] {
  const toolNames = new Map<string, string>();
  return messages.map((m, i): OllamaMessage => {
    const at = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer':
        return { role: 'system', content: textOf(m.content, at) };
      case 'user':
        return userMessage(m.content, at);
      case 'assistant': {
        const msg: OllamaMessage = { role: 'assistant', content: textOf(m.content ?? '', at) };
        const calls = (m.tool_calls ?? []).map((tc, j): OllamaToolCall => {
          if (tc.type !== 'function') throw invalidRequest('ollama supports only function tool calls', `${at}.tool_calls[${j}]`);
          toolNames.set(tc.id, tc.function.name);
          return { function: { name: tc.function.name, arguments: parseArguments(tc.function.arguments, `${at}.tool_calls[${j}].function.arguments`) } };
        });
        if (m.function_call) {
          calls.push({ function: { name: m.function_call.name, arguments: parseArguments(m.function_call.arguments, `${at}.function_call.arguments`) } });
        }
        if (calls.length > 0) msg.tool_calls = calls;
        return msg;
      }
      case 'tool': {
        const msg: OllamaMessage = { role: 'tool', content: textOf(m.content, at), tool_call_id: m.tool_call_id };
        const name = toolNames.get(m.tool_call_id);
        if (name) msg.tool_name = name;
        return msg;
      }
      case 'function':
        return { role: 'tool', content: m.content ?? '', tool_name: m.name };
      default:
        throw invalidRequest('unknown message role', `${at}.role`);
    }
  });
}

/** Text of a string or a list of text (and refusal) parts, joined by newlines. */
function textOf(content: string | ReadonlyArray<{ type: string; text?: string; refusal?: string }>, at: string): string {
  if (typeof content === 'string') return content;
  return content.map((p, j) => {
    if (p.type === 'text' && typeof p.text === 'string') return p.text;
    if (p.type === 'refusal' && typeof p.refusal === 'string') return p.refusal;
    throw invalidRequest(`ollama cannot take a "${p.type}" part in this message`, `${at}.content[${j}]`);
  }).join('\n');
}

function userMessage(content: string | ContentPart[], at: string): OllamaMessage {
  if (typeof content === 'string') return { role: 'user', content };
  const texts: string[] = [];
  const images: string[] = [];
  content.forEach((p, j) => {
    if (p.type === 'text') texts.push(p.text);
    else if (p.type === 'image_url') images.push(base64OfDataUrl(p.image_url.url, `${at}.content[${j}].image_url.url`));
    else throw invalidRequest(`ollama cannot take a "${p.type}" content part`, `${at}.content[${j}]`);
  });
  const msg: OllamaMessage = { role: 'user', content: texts.join('\n') };
  if (images.length > 0) msg.images = images;
  return msg;
}

/** `data:image/png;base64,AAAA` -> `AAAA`. */
function base64OfDataUrl(url: string, param: string): string {
  const comma = url.indexOf(',');
  if (url.startsWith('data:') && comma > 0 && url.slice(0, comma).endsWith(';base64')) return url.slice(comma + 1);
  throw invalidRequest('ollama accepts images only as base64 data: URLs', param);
}

function parseArguments(text: string, param: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  const v = tryParseJson(text);
  if (!isRecord(v)) throw invalidRequest('tool call arguments must be a JSON object', param);
  return v;
}

function toOllamaTools(tools: NonNullable<ChatCompletionCreateParams['tools']>): OllamaTool[] {
  return tools.map((t, i) => {
    if (t.type !== 'function') throw invalidRequest('ollama supports only function tools', `tools[${i}]`);
    const fn: OllamaTool['function'] = { name: t.function.name };
    if (t.function.description !== undefined) fn.description = t.function.description;
    if (t.function.parameters !== undefined) fn.parameters = t.function.parameters;
    return { type: 'function', function: fn };
  });
}

function toOllamaFormat(rf: ChatCompletionCreateParams['response_format']): OllamaChatRequest['format'] {
  if (!rf) return undefined;
  if (rf.type === 'json_object') return 'json';
  if (rf.type === 'json_schema') return rf.json_schema.schema ?? 'json';
  return undefined;
}

function toOllamaOptions(req: ChatCompletionCreateParams): OllamaOptions | undefined {
  const o: OllamaOptions = {};
  if (typeof req.temperature === 'number') o.temperature = req.temperature;
  if (typeof req.top_p === 'number') o.top_p = req.top_p;
  const max = req.max_completion_tokens ?? req.max_tokens;
  if (typeof max === 'number') o.num_predict = max;
  if (typeof req.stop === 'string') o.stop = [req.stop];
  else if (Array.isArray(req.stop)) o.stop = req.stop;
  if (typeof req.seed === 'number') o.seed = req.seed;
  if (typeof req.frequency_penalty === 'number') o.frequency_penalty = req.frequency_penalty;
  if (typeof req.presence_penalty === 'number') o.presence_penalty = req.presence_penalty;
  return Object.keys(o).length > 0 ? o : undefined;
}
