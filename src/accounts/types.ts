/** BYOK provider accounts as the product knows them. */
import type { ProviderName } from '../providers/types.js';

/** Which secret an account's ciphertext holds; kept in the clear so listings never decrypt. */
export type CredentialKind = 'api_key' | 'service_account' | 'none';

/** The non-secret settings of an account (stored as JSON text in `provider_accounts.config`). */
export interface ProviderAccountConfig {
  baseUrl: string | null;
  apiVersion: string | null;
  projectId: string | null;
  location: string | null;
  credential: CredentialKind;
}

/** The secret part, only ever stored encrypted (AES-256-GCM, see crypto.ts). */
export interface ProviderSecret {
  apiKey?: string;
  /** A Google service-account JSON key file's text (vertex-ai). */
  serviceAccountJson?: string;
}

/** An account row: settings, ciphertext and a display hint; never the plaintext secret. */
export interface StoredProviderAccount {
  /** `prv_...` */
  id: string;
  orgId: string;
  provider: ProviderName;
  name: string;
  config: ProviderAccountConfig;
  secretCiphertext: string;
  /** `...abcd` (last 4 characters of an API key), a service account's client_email, or null. */
  secretHint: string | null;
  createdAt: number;
  updatedAt: number;
  /** `key:<id>`, `user:<id>` or `cli`. */
  createdBy: string | null;
}
