import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../db.js';

/**
 * The usage ledger (one row per gateway request) and per-key / per-organisation limits.
 *
 * On PostgreSQL the ledger is range-partitioned by month on `created_at` (Unix ms), so old data is
 * dropped with `DROP TABLE` of a partition instead of a long DELETE; a default partition catches
 * rows outside the partitions made ahead, so no row is ever refused. On SQLite it is a plain table.
 * Indexes serve the usage API's filters: by org and time, by key, by model.
 */
export function usageAndLimits(dialect: Dialect) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const columns = sql`
        id text not null,
        org_id text not null,
        key_id text not null,
        endpoint text not null,
        model text not null,
        provider text,
        upstream_model text,
        byok integer not null,
        stream integer not null,
        status integer not null,
        error_code text,
        prompt_tokens integer not null,
        completion_tokens integer not null,
        cached_tokens integer not null,
        cache_write_tokens integer not null,
        reasoning_tokens integer not null,
        audio_seconds double precision,
        cost_usd double precision not null,
        latency_ms double precision not null,
        ttft_ms double precision,
        created_at bigint not null`;
      if (dialect === 'postgres') {
        await sql`create table usage_events (${columns}, primary key (id, created_at)) partition by range (created_at)`.execute(db);
        await sql`create table usage_events_default partition of usage_events default`.execute(db);
      } else {
        await sql`create table usage_events (${columns}, primary key (id))`.execute(db);
      }
      await db.schema.createIndex('usage_events_org_time').on('usage_events').columns(['org_id', 'created_at']).execute();
      await db.schema.createIndex('usage_events_key_time').on('usage_events').columns(['org_id', 'key_id', 'created_at']).execute();
      await db.schema.createIndex('usage_events_model_time').on('usage_events').columns(['org_id', 'model', 'created_at']).execute();

      for (const table of ['api_keys', 'organizations']) {
        await db.schema.alterTable(table).addColumn('rpm_limit', 'integer').execute();
        await db.schema.alterTable(table).addColumn('tpm_limit', 'integer').execute();
        await db.schema.alterTable(table).addColumn('concurrency_limit', 'integer').execute();
        await db.schema.alterTable(table).addColumn('budget_usd', 'double precision').execute();
        await db.schema.alterTable(table).addColumn('budget_period', 'text').execute();
      }
    },
  };
}
