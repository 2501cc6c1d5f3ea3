/** Usage events for tests, built without starting anything (cheap to import in unit tests). */
import { randomUUID } from 'node:crypto';
import type { UsageEvent } from '../../src/metering/usage.js';

/** A usage event with sensible defaults (a successful gpt-4o-mini chat call, now). */
export function usageEvent(over: Partial<UsageEvent> = {}): UsageEvent {
  return {
    requestId: randomUUID().replace(/-/g, ''), orgId: 'org_x', keyId: 'key_x', endpoint: 'chat', model: 'gpt-4o-mini',
    provider: 'openai', upstreamModel: 'gpt-4o-mini', byok: false, stream: false, status: 200, errorCode: null,
    promptTokens: 12, completionTokens: 5, cachedTokens: 4, cacheWriteTokens: 0, reasoningTokens: 0, audioSeconds: null,
    costUsd: 0.0000045, latencyMs: 12.5, ttftMs: null, createdAt: Date.now(), ...over,
  };
}

/** Poll until `check` is true (or fail after `ms`). */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
