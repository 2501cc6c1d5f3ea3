/**
 * OpenAI's rate-limit headers, so clients that pace themselves on them (the OpenAI SDKs' users,
 * LangChain, ...) work unchanged: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`.
 * When a key and its organisation both have a limit, the one with less room left is shown.
 */
import { openAiDuration } from './periods.js';

export interface WindowFigures {
  limit: number;
  remaining: number;
  resetMs: number;
}

/** The tighter of two windows (less room left). */
export function tighter(a: WindowFigures | undefined, b: WindowFigures): WindowFigures {
  return a === undefined || b.remaining < a.remaining ? b : a;
}

export function rateLimitHeaders(requests: WindowFigures | undefined, tokens: WindowFigures | undefined): Record<string, string> {
  const h: Record<string, string> = {};
  if (requests) {
    h['x-ratelimit-limit-requests'] = String(requests.limit);
    h['x-ratelimit-remaining-requests'] = String(Math.max(0, requests.remaining));
    h['x-ratelimit-reset-requests'] = openAiDuration(requests.resetMs);
  }
  if (tokens) {
    h['x-ratelimit-limit-tokens'] = String(tokens.limit);
    h['x-ratelimit-remaining-tokens'] = String(Math.max(0, tokens.remaining));
    h['x-ratelimit-reset-tokens'] = openAiDuration(tokens.resetMs);
  }
  return h;
}

/** `Retry-After` in whole seconds, at least 1. */
export const retryAfter = (ms: number): string => String(Math.max(1, Math.ceil(ms / 1000)));
