/**
 * What the gateway hands to metering for every request it served, successful or not.
 * The gateway never writes usage itself; it reports to a `UsageSink`.
 */
import type { ProviderName } from '../providers/types.js';

export type Endpoint = 'chat' | 'embeddings' | 'audio';

export interface UsageEvent {
  requestId: string;
  orgId: string;
  keyId: string;
  endpoint: Endpoint;
  /** The model name the client sent. */
  model: string;
  /** null when the request failed before a provider was chosen (unknown model, bad body). */
  provider: ProviderName | null;
  upstreamModel: string | null;
  byok: boolean;
  stream: boolean;
  /** The HTTP status the client got (200 for a stream that started, even if it failed later). */
  status: number;
  /** The error code the client saw, including a mid-stream error event; null on success. */
  errorCode: string | null;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  /** Seconds of audio transcribed (from the provider's verbose answer, else null). */
  audioSeconds: number | null;
  /** USD, from the price table in force when the request was made (0 when the model has no price). */
  costUsd: number;
  latencyMs: number;
  /** Time to the first content byte of a stream; null when not streamed or nothing came. */
  ttftMs: number | null;
  createdAt: number;
}

export interface UsageSink {
  record(event: UsageEvent): void;
}
