/**
 * What each provider's account needs, as data (a name-keyed record, not a chain of ifs over
 * provider names), and the check that a complete set of settings satisfies it. The same check
 * runs on create and on the merged result of an update, so no PATCH can leave an account unusable.
 */
import { createPrivateKey } from 'node:crypto';
import { invalidRequest } from '../errors.js';
import type { ProviderName } from '../providers/types.js';
import type { CredentialKind, ProviderSecret } from './types.js';

export type AccountField = 'api_key' | 'service_account_json' | 'base_url' | 'api_version' | 'project_id' | 'location';

interface ProviderRules {
  /** The default display name. */
  label: string;
  /** Fields an account of this provider may have. */
  allowed: readonly AccountField[];
  required: readonly AccountField[];
  /** Exactly one of these credentials (vertex-ai: Gemini API key or Vertex service account). */
  oneOf?: readonly [AccountField, AccountField];
  /** Fields that only make sense next to a service-account credential. */
  serviceAccountOnly?: readonly AccountField[];
}

export const PROVIDER_RULES: Readonly<Record<ProviderName, ProviderRules>> = {
  openai: { label: 'OpenAI', allowed: ['api_key', 'base_url'], required: ['api_key'] },
  anthropic: { label: 'Anthropic', allowed: ['api_key', 'base_url'], required: ['api_key'] },
  // base_url is the resource endpoint (https://NAME.openai.azure.com): there is no default.
  'azure-openai': { label: 'Azure OpenAI', allowed: ['api_key', 'base_url', 'api_version'], required: ['api_key', 'base_url'] },
  'vertex-ai': {
    label: 'Vertex AI',
    allowed: ['api_key', 'service_account_json', 'project_id', 'location', 'base_url'],
    required: [],
    oneOf: ['api_key', 'service_account_json'],
    serviceAccountOnly: ['project_id', 'location'],
  },
  // A local Ollama has no auth; hosted Ollama and proxies in front of one take a Bearer key.
  ollama: { label: 'Ollama', allowed: ['base_url', 'api_key'], required: ['base_url'] },
};

/** The complete desired state of an account (null = unset). */
export interface AccountSettings {
  baseUrl: string | null;
  apiVersion: string | null;
  projectId: string | null;
  location: string | null;
  secret: ProviderSecret;
}

function valueOf(s: AccountSettings, field: AccountField): string | null | undefined {
  switch (field) {
    case 'api_key': return s.secret.apiKey;
    case 'service_account_json': return s.secret.serviceAccountJson;
    case 'base_url': return s.baseUrl;
    case 'api_version': return s.apiVersion;
    case 'project_id': return s.projectId;
    case 'location': return s.location;
  }
}

const isSet = (v: string | null | undefined): boolean => v !== null && v !== undefined && v !== '';

/** The fields of a service-account key file Backbone needs; throws 400 naming `service_account_json`. */
export function serviceAccountInfo(text: string): { clientEmail: string; projectId: string | null } {
  const bad = (why: string) => invalidRequest(`Invalid service_account_json: ${why}`, 'service_account_json');
  let raw: unknown;
  try { raw = JSON.parse(text); } catch { throw bad('not valid JSON (paste the whole key file)'); }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('not a JSON object');
  const { client_email: email, private_key: key, project_id: project } = raw as Record<string, unknown>;
  if (typeof email !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(email)) throw bad('client_email is missing');
  if (typeof key !== 'string' || !key.includes('PRIVATE KEY')) throw bad('private_key is missing');
  try {
    // Keys pasted through environment variables often carry literal "\n" sequences; the adapter fixes them too.
    createPrivateKey(key.replace(/\\n/g, '\n'));
  } catch {
    throw bad('private_key is not a readable PEM private key'); // never echo the key itself
  }
  return { clientEmail: email, projectId: typeof project === 'string' && project ? project : null };
}

/** Throws a 400 naming the first field that breaks the provider's rules. */
export function checkSettings(provider: ProviderName, s: AccountSettings): void {
  const rules = PROVIDER_RULES[provider];
  const all: AccountField[] = ['api_key', 'service_account_json', 'base_url', 'api_version', 'project_id', 'location'];
  for (const field of all) {
    if (isSet(valueOf(s, field)) && !rules.allowed.includes(field)) {
      throw invalidRequest(`${field} does not apply to ${provider} accounts`, field);
    }
  }
  for (const field of rules.required) {
    if (!isSet(valueOf(s, field))) throw invalidRequest(`${field} is required for ${provider} accounts`, field);
  }
  if (rules.oneOf) {
    const [a, b] = rules.oneOf;
    const hasA = isSet(valueOf(s, a));
    const hasB = isSet(valueOf(s, b));
    if (!hasA && !hasB) throw invalidRequest(`${provider} accounts need ${a} or ${b}`, a);
    if (hasA && hasB) throw invalidRequest(`Give ${a} or ${b}, not both`, b);
  }
  const sa = s.secret.serviceAccountJson;
  for (const field of rules.serviceAccountOnly ?? []) {
    if (isSet(valueOf(s, field)) && !sa) throw invalidRequest(`${field} applies only with service_account_json (Vertex AI); remove it or set it to null`, field);
  }
  if (sa && rules.serviceAccountOnly?.includes('project_id') && !s.projectId && !serviceAccountInfo(sa).projectId) {
    throw invalidRequest('project_id is required: the service-account key file names no project_id', 'project_id');
  }
}

export function credentialKind(secret: ProviderSecret): CredentialKind {
  if (secret.serviceAccountJson) return 'service_account';
  return secret.apiKey ? 'api_key' : 'none';
}

/**
 * What the dashboard shows of a secret: `...abcd` (the last 4 characters of an API key; only
 * `...` for keys too short to spare 4), or a service account's client_email (not a secret).
 */
export function secretHint(secret: ProviderSecret): string | null {
  if (secret.serviceAccountJson) return serviceAccountInfo(secret.serviceAccountJson).clientEmail;
  if (!secret.apiKey) return null;
  return secret.apiKey.length >= 12 ? `...${secret.apiKey.slice(-4)}` : '...';
}
