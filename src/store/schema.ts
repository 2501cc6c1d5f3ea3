/** Table types shared by SQLite and PostgreSQL (Kysely). Times are Unix milliseconds; JSON is text. */
import type { Generated } from 'kysely';

/** Limits a key or an organisation may carry (null = none of its own). */
export interface LimitColumns {
  rpm_limit: number | null; tpm_limit: number | null; concurrency_limit: number | null;
  budget_usd: number | null; budget_period: string | null;
}
export interface OrganizationsTable extends Partial<LimitColumns> { id: string; slug: string; name: string; plan: string; created_at: number }
export interface UsersTable { id: string; email: string; name: string; password_hash: string | null; created_at: number }
export interface MembershipsTable { org_id: string; user_id: string; role: string; created_at: number }
export interface ApiKeysTable extends Partial<LimitColumns> {
  id: string; org_id: string; name: string; environment: string; prefix: string;
  permissions: string; allowed_models: string | null; allowed_ips: string | null;
  expires_at: number | null; created_at: number; created_by: string | null;
  last_used_at: number | null; revoked_at: number | null; updated_at: number;
}
export interface ApiKeySecretsTable { hash: string; key_id: string; prefix: string; created_at: number; expires_at: number | null }
export interface AuditEventsTable {
  id: string; org_id: string; actor: string; action: string; target_type: string; target_id: string;
  details: string; ip: string | null; created_at: number;
}
/** A BYOK provider account. `config` is JSON of the non-secret fields; the secret is only ciphertext. */
export interface ProviderAccountsTable {
  id: string; org_id: string; provider: string; name: string; config: string;
  secret_ciphertext: string; secret_hint: string | null;
  created_at: number; updated_at: number; created_by: string | null;
}
/** The usage ledger: one row per gateway request. Booleans are 0/1 on both stores. */
export interface UsageEventsTable {
  id: string; org_id: string; key_id: string; endpoint: string; model: string; provider: string | null;
  upstream_model: string | null; byok: number; stream: number; status: number; error_code: string | null;
  prompt_tokens: number; completion_tokens: number; cached_tokens: number; cache_write_tokens: number;
  reasoning_tokens: number; audio_seconds: number | null; cost_usd: number; latency_ms: number;
  ttft_ms: number | null; created_at: number;
}
/** A dashboard sign-in. `token_hash` is HMAC-SHA-256 of the cookie's token; `org_id` is the current organisation. */
export interface SessionsTable { token_hash: string; user_id: string; org_id: string; created_at: number; expires_at: number; ip: string | null }
/** An invite link: single use, expiring; only the token's keyed hash is stored. */
export interface InvitesTable {
  id: string; org_id: string; token_hash: string; email: string | null; role: string; created_by: string;
  created_at: number; expires_at: number; accepted_at: number | null; accepted_by: string | null;
}
/** Change feed read by every process to invalidate its caches (polling bus). */
export interface ChangesTable { id: Generated<number>; kind: string; target_id: string; created_at: number }

export interface Database {
  organizations: OrganizationsTable;
  users: UsersTable;
  memberships: MembershipsTable;
  api_keys: ApiKeysTable;
  api_key_secrets: ApiKeySecretsTable;
  audit_events: AuditEventsTable;
  changes: ChangesTable;
  provider_accounts: ProviderAccountsTable;
  usage_events: UsageEventsTable;
  sessions: SessionsTable;
  invites: InvitesTable;
}
