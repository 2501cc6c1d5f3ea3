/**
 * The contract every provider folder implements.
 *
 * A provider is a set of *pure* translators (OpenAI wire format <-> provider wire format) plus
 * the description of one upstream HTTP call (URL, headers, body). Providers never do I/O of
 * their own except obtaining auth tokens (Vertex service accounts), never touch storage, and
 * know nothing of Backbone's HTTP routes. The gateway owns sending, pooling, timeouts, retries,
 * SSE decoding and metering.
 *
 * OpenAI's own request/response types (from the `openai` package, types only) are the canonical
 * shape at the boundary: Backbone speaks OpenAI's API to its clients.
 */
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParams,
} from 'openai/resources/chat/completions';
import type { CreateEmbeddingResponse, EmbeddingCreateParams } from 'openai/resources/embeddings';

export type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParams };
export type { CreateEmbeddingResponse, EmbeddingCreateParams };

export type ProviderName = 'openai' | 'azure-openai' | 'anthropic' | 'vertex-ai' | 'ollama';

/** Credentials and endpoint for one provider account (a platform provider or an org's BYOK one). */
export interface ProviderAccount {
  provider: ProviderName;
  /** Overrides the adapter's default base URL. Follows each provider's own SDK convention:
   *  openai includes `/v1`; anthropic and vertex-ai (Gemini API) are bare hosts;
   *  azure-openai is the resource endpoint `https://NAME.openai.azure.com`; ollama is `http://host:11434`. */
  baseUrl?: string;
  apiKey?: string;
  /** azure-openai: `api-version` query parameter. */
  apiVersion?: string;
  /** vertex-ai with a service account (Vertex AI endpoint instead of the Gemini API). */
  projectId?: string;
  location?: string;
  /** The service-account JSON key file's content. */
  serviceAccountJson?: string;
}

/** One HTTP request to send upstream. The gateway adds pooling, timeouts and the abort signal. */
export interface UpstreamCall {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  /** JSON text for JSON APIs. Multipart bodies are built by the gateway. */
  body?: string;
}

/** Token usage normalised to OpenAI's semantics, plus what metering needs beyond it. */
export interface NormalizedUsage {
  /** Includes cached input (cache reads), and cache writes, as OpenAI counts them. */
  promptTokens: number;
  /** Includes reasoning / thinking tokens. */
  completionTokens: number;
  /** Cache reads (OpenAI `prompt_tokens_details.cached_tokens`). */
  cachedTokens: number;
  /** Cache writes (Anthropic `cache_creation_input_tokens`), priced differently; 0 where n/a. */
  cacheWriteTokens: number;
  reasoningTokens: number;
}

/** The OpenAI error envelope's inner object. */
export interface ErrorBody {
  message: string;
  type: string;
  code: string;
  param?: string | null;
}

/** What a provider's error response means, already mapped to Backbone's taxonomy. */
export interface UpstreamErrorInfo {
  /** The status Backbone answers with (see providers/errors.ts for the mapping). */
  status: number;
  error: ErrorBody;
  /** Seconds, from the provider's `retry-after` (or equivalent), when given. */
  retryAfter?: number;
}

/** Per-request context passed to translators. */
export interface TranslateContext {
  /** The model name as the client sent it (e.g. `gpt-4o` or `anthropic/claude-sonnet-4-5`). */
  requestedModel: string;
  /** The model name sent upstream (after the `provider/` prefix is stripped or an alias resolved). */
  upstreamModel: string;
  /** Backbone's request id, used as the completion id where the provider has none (`chatcmpl-...`). */
  requestId: string;
  /** Unix seconds, for `created`. */
  created: number;
}

export interface ChatResult {
  body: ChatCompletion;
  usage: NormalizedUsage;
}

/** One decoded server-sent event. */
export interface SseEvent {
  event?: string;
  data: string;
  id?: string;
}

/** What a stream translator emits. `data` is the JSON text of one OpenAI chunk. */
export type StreamOutput =
  | { kind: 'chunk'; data: string; /** the final chunk carrying only usage (choices: []) */ usageOnly?: boolean }
  | { kind: 'error'; error: ErrorBody };

/**
 * Translates one upstream stream into OpenAI `chat.completion.chunk`s. Holds explicit per-stream
 * state (tool-call indexes, usage so far). Always ends with exactly one usage-only chunk
 * (`choices: []`, `usage` set) when the upstream reported usage; the gateway forwards it only
 * when the client asked for `stream_options.include_usage`. Never emits `[DONE]`: the gateway does.
 */
export interface StreamTranslator {
  push(event: SseEvent): StreamOutput[];
  /** Upstream stream ended (cleanly). Flush anything pending. */
  end(): StreamOutput[];
  /** Usage reported so far (final once the stream ended), or undefined if the provider sent none. */
  readonly usage: NormalizedUsage | undefined;
  /** The last finish_reason seen, if any. */
  readonly finishReason: string | null;
  /** True once a chunk with content has been produced (for time-to-first-token). */
  readonly started: boolean;
}

export interface ChatTranslator {
  /** Build the upstream call. `stream` is the client's choice; providers that can report usage in
   *  streams must ask for it (OpenAI: `stream_options.include_usage: true`). Auth headers are added
   *  by `ProviderAdapter.authHeaders`. */
  request(req: ChatCompletionCreateParams, account: ProviderAccount, ctx: TranslateContext): UpstreamCall;
  /** Translate a successful (2xx) non-streaming JSON body. */
  response(json: unknown, ctx: TranslateContext): ChatResult;
  /** Create a translator for a successful streaming response. */
  stream(ctx: TranslateContext): StreamTranslator;
  /** How the upstream streams: `sse` (text/event-stream) or `ndjson` (Ollama native: one JSON per line,
   *  passed to push() as `{ data: line }`). */
  readonly streamFormat: 'sse' | 'ndjson';
}

export interface EmbeddingsTranslator {
  request(req: EmbeddingCreateParams, account: ProviderAccount, ctx: TranslateContext): UpstreamCall;
  response(json: unknown, ctx: TranslateContext): { body: CreateEmbeddingResponse; usage: NormalizedUsage };
}

/** Audio transcription: the gateway forwards the multipart form; the provider names URL and headers
 *  and which form fields it accepts. Responses (json, text, srt, vtt, verbose_json) pass through. */
export interface TranscriptionTranslator {
  request(account: ProviderAccount, ctx: TranslateContext): Omit<UpstreamCall, 'body'> & {
    /** The model field to send in the form (Azure ignores it: the deployment is in the URL). */
    formModel: string;
  };
}

export interface ProviderAdapter {
  readonly name: ProviderName;
  /** Used when the account has no baseUrl. */
  readonly defaultBaseUrl: string;
  readonly chat: ChatTranslator;
  readonly embeddings?: EmbeddingsTranslator;
  readonly transcription?: TranscriptionTranslator;
  /** Headers that authenticate a call (may fetch and cache an OAuth token: Vertex service accounts). */
  authHeaders(account: ProviderAccount): Promise<Record<string, string>> | Record<string, string>;
  /** Map a non-2xx upstream response to Backbone's error taxonomy. */
  error(status: number, bodyText: string, headers: Record<string, string | string[] | undefined>): UpstreamErrorInfo;
  /** A cheap authenticated call that proves the credentials work (connection check for BYOK). */
  probe(account: ProviderAccount): UpstreamCall;
}
