/**
 * Anthropic Messages API wire format (`POST /v1/messages`, `anthropic-version: 2023-06-01`):
 * only the parts Backbone sends or reads. Upstream JSON is narrowed into these types by
 * `parse.ts`; nothing here is trusted without that step.
 */

/** Prompt-cache breakpoint. Anthropic allows at most 4 per request. */
export interface AnthropicCacheControl {
  type: 'ephemeral';
  ttl?: '5m' | '1h';
}

export interface AnthropicTextBlock {
  type: 'text';
  text: string;
  cache_control?: AnthropicCacheControl;
}

export type AnthropicImageSource =
  | { type: 'base64'; media_type: string; data: string }
  | { type: 'url'; url: string };

export interface AnthropicImageBlock {
  type: 'image';
  source: AnthropicImageSource;
  cache_control?: AnthropicCacheControl;
}

/** PDF input (OpenAI `file` parts with inline `file_data`). */
export interface AnthropicDocumentBlock {
  type: 'document';
  source: { type: 'base64'; media_type: 'application/pdf'; data: string };
  cache_control?: AnthropicCacheControl;
}

export interface AnthropicToolUseBlock {
  type: 'tool_use';
  id: string;
  name: string;
  /** Always a JSON object: the API rejects any other JSON value. */
  input: Record<string, unknown>;
}

export interface AnthropicToolResultBlock {
  type: 'tool_result';
  tool_use_id: string;
  content?: string | AnthropicTextBlock[];
}

export type AnthropicUserBlock =
  | AnthropicTextBlock
  | AnthropicImageBlock
  | AnthropicDocumentBlock
  | AnthropicToolResultBlock;

export type AnthropicAssistantBlock = AnthropicTextBlock | AnthropicToolUseBlock;

export type AnthropicMessageParam =
  | { role: 'user'; content: AnthropicUserBlock[] }
  | { role: 'assistant'; content: AnthropicAssistantBlock[] };

export interface AnthropicTool {
  name: string;
  description?: string;
  /** JSON Schema; the API requires `type: 'object'` at the top. */
  input_schema: Record<string, unknown>;
}

/** `disable_parallel_tool_use` exists on auto/any/tool only, not on none. */
export type AnthropicToolChoice =
  | { type: 'auto'; disable_parallel_tool_use?: boolean }
  | { type: 'any'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean }
  | { type: 'none' };

export interface AnthropicRequest {
  model: string;
  messages: AnthropicMessageParam[];
  /** Required by Anthropic (OpenAI makes it optional). Includes the thinking budget. */
  max_tokens: number;
  system?: string | AnthropicTextBlock[];
  temperature?: number;
  top_p?: number;
  stop_sequences?: string[];
  stream?: boolean;
  metadata?: { user_id: string };
  tools?: AnthropicTool[];
  tool_choice?: AnthropicToolChoice;
  thinking?: { type: 'enabled'; budget_tokens: number };
}

/** `input_tokens` EXCLUDES cache reads and cache writes (unlike OpenAI's `prompt_tokens`). */
export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/** Response content blocks Backbone understands; other block types are dropped when parsed. */
export type AnthropicResponseBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'thinking'; thinking: string }
  | { type: 'redacted_thinking' };

/** A non-streaming response (`type: 'message'`). */
export interface AnthropicMessage {
  id: string;
  model: string;
  content: AnthropicResponseBlock[];
  /** end_turn | max_tokens | stop_sequence | tool_use | pause_turn | refusal | model_context_window_exceeded;
   *  kept as a string because Anthropic adds values over time. */
  stop_reason: string | null;
  usage: AnthropicUsage;
}

/** Anthropic's error body: `{"type":"error","error":{"type":...,"message":...}}`. */
export interface AnthropicErrorDetail {
  /** invalid_request_error | authentication_error | billing_error | permission_error | not_found_error |
   *  request_too_large | rate_limit_error | api_error | timeout_error | overloaded_error */
  type: string;
  message: string;
}

/** Content block openings in a stream; other kinds (server tools, ...) become `other`. */
export type AnthropicStreamBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string }
  | { type: 'thinking' }
  | { type: 'other' };

export type AnthropicStreamDelta =
  | { type: 'text_delta'; text: string }
  | { type: 'input_json_delta'; partial_json: string }
  /** thinking_delta, signature_delta, citations_delta: nothing to forward. */
  | { type: 'other' };

/** One decoded streaming event. Usage fields are partial: each event carries what it knows. */
export type AnthropicStreamEvent =
  | { type: 'message_start'; id: string; usage: Partial<AnthropicUsage> }
  | { type: 'content_block_start'; index: number; block: AnthropicStreamBlock }
  | { type: 'content_block_delta'; index: number; delta: AnthropicStreamDelta }
  | { type: 'content_block_stop'; index: number }
  | { type: 'message_delta'; stopReason: string | null; usage: Partial<AnthropicUsage> }
  | { type: 'message_stop' }
  | { type: 'ping' }
  | { type: 'error'; error: AnthropicErrorDetail }
  /** Anthropic may add event types; its versioning policy asks clients to ignore unknown ones. */
  | { type: 'unknown'; name: string };
