/**
 * Prices, versioned: USD per million tokens (input, output, cached input, cache writes) and per
 * minute of audio, per provider and model. Built-in list prices can be overridden or extended in
 * the config file (`prices:`); each entry applies from its `effective_from` date, so a price change
 * never rewrites the cost of past requests. Model names match exactly or by a trailing `*`.
 */
import type { NormalizedUsage, ProviderName } from '../providers/types.js';

export interface Price {
  provider: ProviderName;
  /** Exact model name, or a prefix ending in `*`. */
  model: string;
  /** Unix ms from which this price applies. */
  effectiveFrom: number;
  input: number;
  output: number;
  cachedInput?: number;
  cacheWrite?: number;
  audioPerMinute?: number;
}

type Row = [model: string, input: number, output: number, cachedInput?: number, cacheWrite?: number, audioPerMinute?: number];

/** List prices (USD per 1M tokens) as published by the providers; operators override in YAML. */
const BUILT_IN: Record<ProviderName, Row[]> = {
  openai: [
    ['gpt-4o-mini*', 0.15, 0.6, 0.075], ['gpt-4o*', 2.5, 10, 1.25],
    ['gpt-4.1-nano*', 0.1, 0.4, 0.025], ['gpt-4.1-mini*', 0.4, 1.6, 0.1], ['gpt-4.1*', 2, 8, 0.5],
    ['o3-mini*', 1.1, 4.4, 0.55], ['o4-mini*', 1.1, 4.4, 0.275], ['o3*', 2, 8, 0.5], ['o1*', 15, 60, 7.5],
    ['text-embedding-3-small', 0.02, 0], ['text-embedding-3-large', 0.13, 0], ['text-embedding-ada-002', 0.1, 0],
    ['whisper-1', 0, 0, undefined, undefined, 0.006],
    ['gpt-4o-mini-transcribe', 0, 0, undefined, undefined, 0.003], ['gpt-4o-transcribe', 0, 0, undefined, undefined, 0.006],
  ],
  'azure-openai': [],
  anthropic: [
    ['claude-opus-4*', 15, 75, 1.5, 18.75], ['claude-sonnet-4*', 3, 15, 0.3, 3.75], ['claude-3-7-sonnet*', 3, 15, 0.3, 3.75],
    ['claude-haiku-4*', 1, 5, 0.1, 1.25], ['claude-3-5-haiku*', 0.8, 4, 0.08, 1],
  ],
  'vertex-ai': [
    ['gemini-2.5-pro*', 1.25, 10, 0.31], ['gemini-2.5-flash-lite*', 0.1, 0.4, 0.025], ['gemini-2.5-flash*', 0.3, 2.5, 0.075],
    ['gemini-2.0-flash*', 0.1, 0.4, 0.025], ['text-embedding-004', 0, 0], ['gemini-embedding*', 0.15, 0],
  ],
  ollama: [['*', 0, 0]],
};

export function builtInPrices(): Price[] {
  return Object.entries(BUILT_IN).flatMap(([provider, rows]) => rows.map(([model, input, output, cachedInput, cacheWrite, audioPerMinute]) => ({
    provider: provider as ProviderName, model, effectiveFrom: 0, input, output, cachedInput, cacheWrite, audioPerMinute,
  })));
}

export class PriceTable {
  private readonly byProvider = new Map<ProviderName, Price[]>();
  private readonly memo = new Map<string, Price | null>();

  /** `overrides` (from config) win over built-in prices for the same model and date. */
  constructor(overrides: readonly Price[] = []) {
    for (const p of [...builtInPrices(), ...overrides]) {
      const list = this.byProvider.get(p.provider) ?? [];
      list.push(p);
      this.byProvider.set(p.provider, list);
    }
    // Later effective dates first; among equal dates, overrides (added last) first; exact before prefix.
    for (const list of this.byProvider.values()) list.reverse().sort((a, b) => b.effectiveFrom - a.effectiveFrom);
  }

  /** The price of a model at a time. Azure deployments without their own price use OpenAI's. */
  lookup(provider: ProviderName, model: string, at = Date.now()): Price | undefined {
    const key = `${provider}\u0000${model}\u0000${Math.floor(at / 86_400_000)}`;
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit ?? undefined;
    const found = this.find(provider, model, at) ?? (provider === 'azure-openai' ? this.find('openai', model, at) : undefined);
    if (this.memo.size > 10_000) this.memo.clear();
    this.memo.set(key, found ?? null);
    return found;
  }

  private find(provider: ProviderName, model: string, at: number): Price | undefined {
    const list = (this.byProvider.get(provider) ?? []).filter((p) => p.effectiveFrom <= at);
    const exact = list.find((p) => p.model === model);
    if (exact) return exact;
    let best: Price | undefined;
    for (const p of list) {
      if (!p.model.endsWith('*') || !model.startsWith(p.model.slice(0, -1))) continue;
      if (!best || p.model.length > best.model.length || (p.model.length === best.model.length && p.effectiveFrom > best.effectiveFrom)) best = p;
    }
    return best;
  }
}

/** Cost in USD. Cached reads and cache writes are priced apart from fresh input (they are inside
 *  promptTokens, OpenAI-style), so an Anthropic cache hit is not billed at the full input rate. */
export function costOf(price: Price | undefined, u: NormalizedUsage, audioSeconds: number | null = null): number {
  if (!price) return 0;
  const fresh = Math.max(0, u.promptTokens - u.cachedTokens - u.cacheWriteTokens);
  const tokens = fresh * price.input
    + u.cachedTokens * (price.cachedInput ?? price.input)
    + u.cacheWriteTokens * (price.cacheWrite ?? price.input)
    + u.completionTokens * price.output;
  const audio = audioSeconds && price.audioPerMinute ? (audioSeconds / 60) * price.audioPerMinute : 0;
  return tokens / 1_000_000 + audio;
}
