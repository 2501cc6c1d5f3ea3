/**
 * Providers by name. The gateway looks adapters up here, never through an if/else over names.
 * A registry is built per app (the vertex-ai adapter owns an OAuth token cache).
 */
import type { ProviderAdapter, ProviderName } from './types.js';
import { openaiAdapter } from './openai/index.js';
import { azureOpenAIAdapter } from './azure-openai/index.js';
import { anthropicAdapter } from './anthropic/index.js';
import { createVertexAiAdapter, type VertexAiAdapterOptions } from './vertex-ai/index.js';
import { ollamaAdapter } from './ollama/index.js';

export const PROVIDER_NAMES: readonly ProviderName[] = ['openai', 'azure-openai', 'anthropic', 'vertex-ai', 'ollama'];

export function isProviderName(name: string): name is ProviderName {
  return (PROVIDER_NAMES as readonly string[]).includes(name);
}

export type ProviderRegistry = Readonly<Record<ProviderName, ProviderAdapter>>;

export function createProviderRegistry(opts: { vertexAi?: VertexAiAdapterOptions } = {}): ProviderRegistry {
  return Object.freeze({
    openai: openaiAdapter,
    'azure-openai': azureOpenAIAdapter,
    anthropic: anthropicAdapter,
    'vertex-ai': createVertexAiAdapter(opts.vertexAi),
    ollama: ollamaAdapter,
  });
}

let shared: ProviderRegistry | undefined;
/** The process-wide registry, for callers outside an app (the CLI, connection checks). */
export function getAdapter(name: ProviderName): ProviderAdapter {
  shared ??= createProviderRegistry();
  return shared[name];
}
