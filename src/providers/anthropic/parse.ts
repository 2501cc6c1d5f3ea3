/**
 * Narrowing of Anthropic's JSON (`unknown`) into the typed wire shapes of `wire.ts`. A body that
 * lacks what Backbone needs throws `AnthropicTranslationError.badUpstream` (502): a broken upstream
 * answer must never turn into an empty-looking success.
 */
import { AnthropicTranslationError, parseErrorDetail } from './error.js';
import { isRecord, num as int, str } from './narrow.js';
import type {
  AnthropicMessage,
  AnthropicResponseBlock,
  AnthropicStreamBlock,
  AnthropicStreamDelta,
  AnthropicStreamEvent,
  AnthropicUsage,
} from './wire.js';

/** Usage fields that are present and numeric. Cache fields are null or absent without caching. */
export function parseUsage(v: unknown): Partial<AnthropicUsage> {
  if (!isRecord(v)) return {};
  const out: Partial<AnthropicUsage> = {};
  const input = int(v['input_tokens']);
  const output = int(v['output_tokens']);
  const write = int(v['cache_creation_input_tokens']);
  const read = int(v['cache_read_input_tokens']);
  if (input !== undefined) out.input_tokens = input;
  if (output !== undefined) out.output_tokens = output;
  if (write !== undefined) out.cache_creation_input_tokens = write;
  if (read !== undefined) out.cache_read_input_tokens = read;
  return out;
}

function parseResponseBlock(v: unknown): AnthropicResponseBlock | undefined {
  if (!isRecord(v)) return undefined;
  switch (v['type']) {
    case 'text':
      return { type: 'text', text: str(v['text']) ?? '' };
    case 'tool_use': {
      const id = str(v['id']);
      const name = str(v['name']);
      if (id === undefined || name === undefined) throw AnthropicTranslationError.badUpstream('tool_use block without id or name');
      return { type: 'tool_use', id, name, input: v['input'] ?? {} };
    }
    case 'thinking':
      return { type: 'thinking', thinking: str(v['thinking']) ?? '' };
    case 'redacted_thinking':
      return { type: 'redacted_thinking' };
    default:
      // server_tool_use, web_search_tool_result, ...: results of Anthropic-hosted tools that
      // have no OpenAI chat equivalent; the model's text already reports what they found.
      return undefined;
  }
}

/** Narrow a successful non-streaming body (`type: "message"`). */
export function parseMessage(json: unknown): AnthropicMessage {
  if (!isRecord(json) || json['type'] !== 'message' || !Array.isArray(json['content'])) {
    throw AnthropicTranslationError.badUpstream('response is not a message object');
  }
  const content = json['content'].map(parseResponseBlock).filter((b): b is AnthropicResponseBlock => b !== undefined);
  const usage = parseUsage(json['usage']);
  return {
    id: str(json['id']) ?? '',
    model: str(json['model']) ?? '',
    content,
    stop_reason: str(json['stop_reason']) ?? null,
    usage: {
      input_tokens: usage.input_tokens ?? 0,
      output_tokens: usage.output_tokens ?? 0,
      cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
      cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
    },
  };
}

function parseStreamBlock(v: unknown): AnthropicStreamBlock {
  if (!isRecord(v)) return { type: 'other' };
  if (v['type'] === 'text') return { type: 'text', text: str(v['text']) ?? '' };
  if (v['type'] === 'thinking' || v['type'] === 'redacted_thinking') return { type: 'thinking' };
  if (v['type'] === 'tool_use') {
    const id = str(v['id']);
    const name = str(v['name']);
    if (id === undefined || name === undefined) throw AnthropicTranslationError.badUpstream('tool_use block without id or name');
    return { type: 'tool_use', id, name };
  }
  // server_tool_use also streams input_json_delta; as `other`, its arguments are never forwarded.
  return { type: 'other' };
}

function parseStreamDelta(v: unknown): AnthropicStreamDelta {
  if (!isRecord(v)) return { type: 'other' };
  if (v['type'] === 'text_delta') return { type: 'text_delta', text: str(v['text']) ?? '' };
  if (v['type'] === 'input_json_delta') return { type: 'input_json_delta', partial_json: str(v['partial_json']) ?? '' };
  return { type: 'other' };
}

/** Decode one SSE `data:` payload of a Messages stream. The `type` inside the JSON is authoritative
 *  (it always repeats the `event:` name). */
export function parseStreamEvent(data: string): AnthropicStreamEvent {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    throw AnthropicTranslationError.badUpstream('stream event is not JSON');
  }
  if (!isRecord(json)) throw AnthropicTranslationError.badUpstream('stream event is not an object');
  const index = int(json['index']) ?? 0;
  switch (json['type']) {
    case 'message_start': {
      const message = isRecord(json['message']) ? json['message'] : {};
      return { type: 'message_start', id: str(message['id']) ?? '', usage: parseUsage(message['usage']) };
    }
    case 'content_block_start':
      return { type: 'content_block_start', index, block: parseStreamBlock(json['content_block']) };
    case 'content_block_delta':
      return { type: 'content_block_delta', index, delta: parseStreamDelta(json['delta']) };
    case 'content_block_stop':
      return { type: 'content_block_stop', index };
    case 'message_delta': {
      const delta = isRecord(json['delta']) ? json['delta'] : {};
      return { type: 'message_delta', stopReason: str(delta['stop_reason']) ?? null, usage: parseUsage(json['usage']) };
    }
    case 'message_stop':
      return { type: 'message_stop' };
    case 'ping':
      return { type: 'ping' };
    case 'error':
      return { type: 'error', error: parseErrorDetail(json) ?? { type: 'api_error', message: '' } };
    default:
      return { type: 'unknown', name: str(json['type']) ?? '' };
  }
}
