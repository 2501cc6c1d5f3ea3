/**
 * The worst case a request can use, known before it is sent: what budgets and quotas reserve.
 * Prompt tokens are estimated from the size of what is sent (UTF-8 bytes / 4; an image counts as a
 * fixed number of tokens instead of its base64 size); output is the request's `max_tokens` /
 * `max_completion_tokens` (times `n`), or the most the model can produce when absent. The actual
 * usage settles the reservation afterwards, so over-estimating costs nothing but headroom.
 */
import { DEFAULT_MAX_TOKENS } from '../providers/anthropic/chat-request.js';
import type { ProviderName } from '../providers/types.js';

/** What one route of a request may use at most. */
export interface Need {
  promptTokens: number;
  completionTokens: number;
  /** Seconds of audio (transcription), priced per minute. */
  audioSeconds: number | null;
}

/** The route fields an estimate depends on. */
export interface RouteLike {
  provider: ProviderName;
  requestedModel: string;
  upstreamModel: string;
  byok: boolean;
}

export type NeedOf = (route: RouteLike) => Need;

/** A high-detail image: OpenAI's largest tiling is 1,105 tokens, Anthropic's ~1,600. */
const IMAGE_TOKENS = 1600;
/** Output cap for a model nothing better is known about. */
const DEFAULT_OUTPUT_CAP = 16_384;
/** Anthropic's largest thinking budget the translator asks for (see anthropic/chat-request.ts). */
const MAX_THINKING = 32_768;

/** The most each model family can produce in one answer (providers' published maximums). */
const OUTPUT_CAPS: [RegExp, number][] = [
  [/^(o1|o3|o4)/, 100_000],
  [/^gpt-5/, 128_000],
  [/^gpt-4\.1/, 32_768],
  [/^(gpt-4o|chatgpt-4o)/, 16_384],
  [/^(gpt-4|gpt-3\.5)/, 4_096],
  [/^gemini-2\.5/, 65_536],
  [/^gemini-/, 8_192],
  [/^(text-embedding|gemini-embedding|whisper|nomic-embed|mxbai-embed|all-minilm)/, 0],
];

/** The most a route can produce when the request sets no limit. */
export function outputCap(route: RouteLike, reasoning: boolean): number {
  // The Anthropic translator always sends max_tokens: its default, plus thinking when asked for.
  if (route.provider === 'anthropic') return DEFAULT_MAX_TOKENS + (reasoning ? MAX_THINKING : 0);
  for (const model of [route.upstreamModel, route.requestedModel]) {
    for (const [re, cap] of OUTPUT_CAPS) if (re.test(model)) return cap;
  }
  return DEFAULT_OUTPUT_CAP;
}

/** Estimated tokens of a JSON-able value: UTF-8 bytes / 4, images at a fixed count. */
export function tokensOf(value: unknown): number {
  let images = 0;
  const json = JSON.stringify(value, (k, v: unknown) => {
    if (k === 'image_url' && v !== null && typeof v === 'object') { images++; return undefined; }
    return v;
  }) ?? '';
  return Math.ceil(Buffer.byteLength(json) / 4) + images * IMAGE_TOKENS;
}

interface ChatLike {
  messages: unknown;
  tools?: unknown;
  response_format?: unknown;
  n?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  reasoning_effort?: unknown;
}

export function chatNeed(body: ChatLike): NeedOf {
  // Counted on first use: most requests meet no quota or budget, and the count serialises the body.
  let prompt: number | undefined;
  const explicit = body.max_completion_tokens ?? body.max_tokens ?? null;
  const n = body.n ?? 1;
  return (route) => ({
    promptTokens: (prompt ??= tokensOf([body.messages, body.tools ?? null, body.response_format ?? null])),
    completionTokens: n * (explicit ?? outputCap(route, !!body.reasoning_effort)),
    audioSeconds: null,
  });
}

export function embeddingsNeed(body: { input: unknown }): NeedOf {
  // Token-id arrays are already tokens; text is estimated like a prompt.
  const input = body.input;
  let promptTokens: number | undefined;
  const count = (): number => {
    const ids = Array.isArray(input) && input.every((x) => typeof x === 'number') ? input.length
      : Array.isArray(input) && input.every((x) => Array.isArray(x)) ? (input as unknown[][]).reduce((a, x) => a + x.length, 0)
        : null;
    return ids ?? tokensOf(input);
  };
  return () => ({ promptTokens: (promptTokens ??= count()), completionTokens: 0, audioSeconds: null });
}

/** Audio is priced per minute, and the duration is unknown until the answer: bound it by the file
 *  size at 8 kbit/s, below what speech encodings use in practice, so a reservation does not fall short. */
export function audioNeed(fileBytes: number): NeedOf {
  const seconds = Math.ceil(fileBytes / 1000);
  return () => ({ promptTokens: 0, completionTokens: 0, audioSeconds: seconds });
}
