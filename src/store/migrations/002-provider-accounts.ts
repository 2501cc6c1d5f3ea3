import type { Kysely } from 'kysely';
import type { Dialect } from '../db.js';

/**
 * BYOK provider accounts: one per provider per organisation (so `openai/gpt-4o` names exactly one
 * account). Secrets are stored only as AES-256-GCM ciphertext; `config` holds the non-secret fields.
 */
export function providerAccounts(_dialect: Dialect) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.createTable('provider_accounts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('config', 'text', (c) => c.notNull())
        .addColumn('secret_ciphertext', 'text', (c) => c.notNull())
        .addColumn('secret_hint', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('created_by', 'text')
        .addUniqueConstraint('provider_accounts_org_provider', ['org_id', 'provider'])
        .execute();
    },
  };
}
