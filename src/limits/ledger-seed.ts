/**
 * Where a budget or quota counter starts when a process first uses it: the usage ledger
 * (`usage_events`) for the period so far. One query per scope per process, never per request
 * (the limiter remembers which scopes it has seeded); an empty ledger starts the counter at zero.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/schema.js';

export interface LedgerTotals {
  /** USD spent by an organisation (or one of its keys) since `since`. */
  costSince(orgId: string, keyId: string | null, since: number): Promise<number>;
  /** Platform (non-BYOK) tokens an organisation used since `since`. */
  platformTokensSince(orgId: string, since: number): Promise<number>;
}

export class SqlLedgerTotals implements LedgerTotals {
  constructor(private readonly db: Kysely<Database>) {}

  async costSince(orgId: string, keyId: string | null, since: number): Promise<number> {
    let q = this.db.selectFrom('usage_events')
      .select(sql<number | string | null>`sum(cost_usd)`.as('total'))
      .where('org_id', '=', orgId)
      .where('created_at', '>=', since);
    if (keyId !== null) q = q.where('key_id', '=', keyId);
    return Number((await q.executeTakeFirst())?.total ?? 0);
  }

  async platformTokensSince(orgId: string, since: number): Promise<number> {
    const r = await this.db.selectFrom('usage_events')
      .select(sql<number | string | null>`sum(prompt_tokens + completion_tokens)`.as('total'))
      .where('org_id', '=', orgId)
      .where('byok', '=', 0)
      .where('created_at', '>=', since)
      .executeTakeFirst();
    return Number(r?.total ?? 0);
  }
}

/** No ledger (tests of the limiter alone): every counter starts at zero. */
export const EMPTY_LEDGER: LedgerTotals = { costSince: async () => 0, platformTokensSince: async () => 0 };
