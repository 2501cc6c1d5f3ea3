/** The usage table's columns in one fixed order, for inserts that bind values by position. */
import type { UsageEventsTable } from './schema.js';

export const USAGE_COLUMNS = [
  'id', 'org_id', 'key_id', 'endpoint', 'model', 'provider', 'upstream_model', 'byok', 'stream', 'status', 'error_code',
  'prompt_tokens', 'completion_tokens', 'cached_tokens', 'cache_write_tokens', 'reasoning_tokens',
  'audio_seconds', 'cost_usd', 'latency_ms', 'ttft_ms', 'created_at',
] as const satisfies readonly (keyof UsageEventsTable)[];

/** A row's values in USAGE_COLUMNS order. */
export function usageValues(r: UsageEventsTable): unknown[] {
  return [r.id, r.org_id, r.key_id, r.endpoint, r.model, r.provider, r.upstream_model, r.byok, r.stream, r.status, r.error_code,
    r.prompt_tokens, r.completion_tokens, r.cached_tokens, r.cache_write_tokens, r.reasoning_tokens,
    r.audio_seconds, r.cost_usd, r.latency_ms, r.ttft_ms, r.created_at];
}
