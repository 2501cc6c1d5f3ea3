/**
 * Ollama's native chat API (`POST /api/chat`), as documented in ollama/ollama docs/api.md and
 * api/types.go. Only the fields Backbone sends or reads.
 */

/** A tool call as Ollama sends and accepts it: no id (older servers), arguments as an object. */
export interface OllamaToolCall {
  id?: string;
  function: { index?: number; name: string; arguments: Record<string, unknown> };
}

export interface OllamaMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  /** Base64 images, no `data:` prefix. */
  images?: string[];
  tool_calls?: OllamaToolCall[];
  /** On `tool` messages: which function produced this result. */
  tool_name?: string;
  /** Newer servers correlate tool results by id as well; older ones ignore it. */
  tool_call_id?: string;
}

export interface OllamaTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

/** Modelfile parameters settable per request. */
export interface OllamaOptions {
  temperature?: number;
  top_p?: number;
  num_predict?: number;
  stop?: string[];
  seed?: number;
  frequency_penalty?: number;
  presence_penalty?: number;
}

export interface OllamaChatRequest {
  model: string;
  messages: OllamaMessage[];
  tools?: OllamaTool[];
  /** `"json"` or a JSON schema object. */
  format?: 'json' | Record<string, unknown>;
  options?: OllamaOptions;
  /** Ollama streams by default; Backbone always says which. */
  stream: boolean;
}

/** One response object: the whole answer (`stream: false`) or one NDJSON line of a stream.
 *  The last one has `done: true`, `done_reason` and the token counts. */
export interface OllamaChatChunk {
  model?: string;
  message?: { role?: string; content: string; thinking?: string; tool_calls: OllamaToolCall[] };
  done: boolean;
  done_reason?: string;
  prompt_eval_count: number;
  eval_count: number;
  /** An error reported in a 200 stream. */
  error?: string;
}
