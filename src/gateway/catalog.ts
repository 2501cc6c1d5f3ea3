/**
 * Model routing: which provider and account serve a model name.
 *
 * - A bare name is a platform model: declared in the config's `models:` list, or matched by the
 *   model families of a platform provider that has credentials (`gpt-*` -> openai, `claude-*` ->
 *   anthropic, `gemini-*` -> vertex-ai, ...).
 * - `provider/model` is Bring Your Own Key: the organisation's own account for that provider;
 *   everything after the slash goes to the provider unchanged.
 */
import type { Config, PlatformModel } from '../config/index.js';
import { ApiError } from '../errors.js';
import type { ProviderAccount, ProviderAdapter, ProviderName } from '../providers/types.js';
import { isProviderName, PROVIDER_NAMES, type ProviderRegistry } from '../providers/registry.js';

export interface Route {
  requestedModel: string;
  provider: ProviderName;
  adapter: ProviderAdapter;
  account: ProviderAccount;
  upstreamModel: string;
  byok: boolean;
}

/** The organisation's own provider accounts (BYOK), resolved without a store round trip when hot. */
export interface AccountResolver {
  resolve(orgId: string, provider: ProviderName): Promise<ProviderAccount | undefined>;
  /** Providers the organisation has accounts for (for /models). */
  providers(orgId: string): Promise<ProviderName[]>;
}

export interface ModelInfo {
  id: string;
  provider: ProviderName;
  byok: boolean;
}

/** Families each provider serves by bare name, in precedence order. */
const FAMILIES: Record<ProviderName, RegExp> = {
  openai: /^(gpt-|o\d|chatgpt-|text-embedding-(3|ada)|whisper-|tts-|dall-e-|omni-moderation|codex-|computer-use-)/,
  'azure-openai': /^(gpt-|o\d|text-embedding-(3|ada)|whisper)/,
  anthropic: /^claude-/,
  'vertex-ai': /^(gemini-|text-embedding-00|text-multilingual-embedding-)/,
  ollama: /^(llama|mistral|mixtral|qwen|gemma|phi\d|deepseek|codellama|nomic-embed|mxbai-embed|all-minilm|llava|granite|smollm)/,
};

/** What /models lists for a provider (routing accepts any name of the family, listed or not). */
const LISTED: Record<ProviderName, readonly string[]> = {
  openai: ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano', 'o3', 'o3-mini', 'o4-mini',
    'text-embedding-3-small', 'text-embedding-3-large', 'whisper-1', 'gpt-4o-transcribe', 'gpt-4o-mini-transcribe'],
  'azure-openai': ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'text-embedding-3-small', 'whisper'],
  anthropic: ['claude-opus-4-1', 'claude-sonnet-4-5', 'claude-haiku-4-5', 'claude-3-5-haiku-latest'],
  'vertex-ai': ['gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-2.5-flash-lite', 'gemini-2.0-flash', 'text-embedding-004'],
  ollama: [],
};

/** Platform accounts from the configuration (credentials of the operator's own provider accounts). */
export function platformAccounts(config: Config): Partial<Record<ProviderName, ProviderAccount>> {
  const p = config.providers;
  const out: Partial<Record<ProviderName, ProviderAccount>> = {};
  if (p.openai) out.openai = { provider: 'openai', apiKey: p.openai.apiKey, baseUrl: p.openai.baseUrl };
  if (p.azureOpenai) out['azure-openai'] = { provider: 'azure-openai', apiKey: p.azureOpenai.apiKey, baseUrl: p.azureOpenai.endpoint, apiVersion: p.azureOpenai.apiVersion };
  if (p.anthropic) out.anthropic = { provider: 'anthropic', apiKey: p.anthropic.apiKey, baseUrl: p.anthropic.baseUrl };
  if (p.vertexAi) {
    out['vertex-ai'] = {
      provider: 'vertex-ai', apiKey: p.vertexAi.apiKey, serviceAccountJson: p.vertexAi.serviceAccountJson,
      baseUrl: p.vertexAi.baseUrl, projectId: p.vertexAi.project, location: p.vertexAi.location,
    };
  }
  if (p.ollama) out.ollama = { provider: 'ollama', baseUrl: p.ollama.baseUrl };
  return out;
}

/** Does a key's model allow-list admit this model? Entries are exact names or end in `*`. */
export function modelAllowed(allowList: readonly string[] | null, model: string): boolean {
  if (allowList === null) return true;
  return allowList.some((p) => (p.endsWith('*') ? model.startsWith(p.slice(0, -1)) : p === model));
}

export class ModelCatalog {
  private readonly accounts: Partial<Record<ProviderName, ProviderAccount>>;
  private readonly declared = new Map<string, PlatformModel>();
  private readonly families: [RegExp, ProviderName][];

  constructor(config: Config, private readonly registry: ProviderRegistry, private readonly byok: AccountResolver) {
    this.accounts = platformAccounts(config);
    for (const m of config.models) this.declared.set(m.name, m);
    // Azure serves the OpenAI families by bare name only when OpenAI itself is not configured.
    this.families = PROVIDER_NAMES
      .filter((n) => this.accounts[n] && !(n === 'azure-openai' && this.accounts.openai))
      .map((n) => [FAMILIES[n], n]);
  }

  /** The route for a model name, plus the routes of its fallbacks (platform models only). */
  async resolve(model: string, orgId: string): Promise<{ route: Route; fallbacks: Route[] }> {
    const slash = model.indexOf('/');
    if (slash > 0) {
      const provider = model.slice(0, slash);
      const upstreamModel = model.slice(slash + 1);
      if (!isProviderName(provider) || upstreamModel.length === 0) throw notFound(model);
      const account = await this.byok.resolve(orgId, provider);
      if (!account) {
        throw new ApiError('model_not_found', `The model '${model}' needs a ${provider} account for this organisation; add one under AI Providers`, { param: 'model' });
      }
      return { route: this.route(model, provider, account, upstreamModel, true), fallbacks: [] };
    }
    const route = this.platformRoute(model);
    if (!route) throw notFound(model);
    const declared = this.declared.get(model);
    const fallbacks = (declared?.fallbacks ?? []).map((f) => this.platformRoute(f)).filter((r): r is Route => r !== undefined);
    return { route, fallbacks };
  }

  private platformRoute(model: string): Route | undefined {
    const declared = this.declared.get(model);
    if (declared) {
      const account = this.accounts[declared.provider];
      return account && this.route(model, declared.provider, account, declared.upstream, false);
    }
    for (const [re, provider] of this.families) {
      if (re.test(model)) return this.route(model, provider, this.accounts[provider]!, model, false);
    }
    return undefined;
  }

  private route(requestedModel: string, provider: ProviderName, account: ProviderAccount, upstreamModel: string, byok: boolean): Route {
    return { requestedModel, provider, adapter: this.registry[provider], account, upstreamModel, byok };
  }

  /** Everything the organisation may call (before a key's allow-list is applied). */
  async list(orgId: string): Promise<ModelInfo[]> {
    const out = new Map<string, ModelInfo>();
    for (const m of this.declared.values()) if (this.accounts[m.provider]) out.set(m.name, { id: m.name, provider: m.provider, byok: false });
    for (const [, provider] of this.families) {
      for (const id of LISTED[provider]) if (!out.has(id) && this.platformRoute(id)?.provider === provider) out.set(id, { id, provider, byok: false });
    }
    for (const provider of await this.byok.providers(orgId)) {
      for (const id of LISTED[provider]) out.set(`${provider}/${id}`, { id: `${provider}/${id}`, provider, byok: true });
    }
    return [...out.values()];
  }
}

function notFound(model: string): ApiError {
  return new ApiError('model_not_found', `The model '${model}' does not exist or is not available to this organisation`, { param: 'model' });
}
