import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../db.js';

/** The channel PostgreSQL NOTIFYs on every change-feed row (see cluster/notifier.ts). */
export const PG_CHANGES_CHANNEL = 'backbone_changes';

/**
 * Scale-out (PostgreSQL only; nothing on SQLite):
 *
 * - A trigger on `changes` that NOTIFYs `backbone_changes` for every appended row. NOTIFY is
 *   transactional (delivered at commit, never for a rolled-back write), and because it lives in the
 *   database every writer wakes every listening instance: servers and the CLI alike.
 * - The counters of the PostgreSQL `RateLimitStore` (limits/pg-store.ts), used when several instances
 *   share PostgreSQL without Redis: `rate_limit_counters` (windows and budgets) and
 *   `rate_limit_leases` (concurrency slots), and two functions that check-and-apply a whole batch
 *   under row locks taken in key order, in one round trip (the PostgreSQL twin of the Redis Lua
 *   scripts). Times come from the database clock, so every instance agrees on windows.
 */
export function scaleOut(dialect: Dialect) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      if (dialect !== 'postgres') return;
      await sql`
        create or replace function backbone_changes_notify() returns trigger language plpgsql as $$
        begin
          perform pg_notify(${sql.lit(PG_CHANGES_CHANNEL)}, new.id::text);
          return new;
        end $$`.execute(db);
      await sql`create trigger changes_notify after insert on changes for each row execute function backbone_changes_notify()`.execute(db);

      await sql`create table rate_limit_counters (
        key text primary key,
        value bigint not null default 0,
        reserved bigint not null default 0,
        expires_at bigint
      )`.execute(db);
      await sql`create index rate_limit_counters_expires on rate_limit_counters (expires_at) where expires_at is not null`.execute(db);
      await sql`create table rate_limit_leases (
        key text not null,
        lease text not null,
        expires_at bigint not null,
        primary key (key, lease)
      )`.execute(db);

      // Types: c = count (rpm), l = level (tpm check), g = gauge (concurrency), r = reserve (budget).
      // Returns {refused index (0 = none, else 1-based), used..., reset...}.
      await sql.raw(`
        create or replace function rate_limit_take(p_keys text[], p_types text[], p_limits bigint[], p_a bigint[], p_b bigint[], p_leases text[])
        returns bigint[] language plpgsql as $$
        declare
          now_ms bigint := (extract(epoch from clock_timestamp()) * 1000)::bigint;
          n int := coalesce(array_length(p_keys, 1), 0);
          used bigint[] := array_fill(0::bigint, array[greatest(n, 1)]);
          rst bigint[] := array_fill(0::bigint, array[greatest(n, 1)]);
          vals bigint[] := array_fill(0::bigint, array[greatest(n, 1)]);
          ress bigint[] := array_fill(0::bigint, array[greatest(n, 1)]);
          exps bigint[] := array_fill(null::bigint, array[greatest(n, 1)]);
          refused int := 0;
          r record;
          cnt bigint;
          live boolean;
          ok boolean;
          i int;
        begin
          if n = 0 then return array[0]; end if;
          insert into rate_limit_counters (key) select distinct k from unnest(p_keys) k order by 1 on conflict do nothing;
          perform 1 from rate_limit_counters where key = any(p_keys) order by key for update;
          for i in 1..n loop
            select value, reserved, expires_at into r from rate_limit_counters where key = p_keys[i];
            if p_types[i] = 'r' then
              live := r.expires_at is null or r.expires_at > now_ms;
            else
              live := r.expires_at is not null and r.expires_at > now_ms;
            end if;
            if live then vals[i] := r.value; ress[i] := r.reserved; exps[i] := r.expires_at;
            else vals[i] := 0; ress[i] := 0; exps[i] := null; end if;
            if p_types[i] = 'c' or p_types[i] = 'l' then
              used[i] := vals[i];
              rst[i] := case when live then r.expires_at - now_ms else p_a[i] end;
              ok := used[i] < p_limits[i];
            elsif p_types[i] = 'g' then
              delete from rate_limit_leases where key = p_keys[i] and expires_at <= now_ms;
              select count(*) into cnt from rate_limit_leases where key = p_keys[i];
              used[i] := cnt;
              rst[i] := 0;
              ok := used[i] < p_limits[i];
            else
              used[i] := vals[i] + ress[i];
              rst[i] := 0;
              ok := used[i] + p_a[i] <= p_limits[i];
            end if;
            if not ok and refused = 0 then refused := i; end if;
          end loop;
          if refused = 0 then
            for i in 1..n loop
              if p_types[i] = 'c' then
                if exps[i] is null then exps[i] := now_ms + p_a[i]; vals[i] := 0; end if;
                vals[i] := vals[i] + 1;
                update rate_limit_counters set value = vals[i], reserved = 0, expires_at = exps[i] where key = p_keys[i];
                used[i] := vals[i];
                rst[i] := exps[i] - now_ms;
              elsif p_types[i] = 'g' then
                insert into rate_limit_leases (key, lease, expires_at) values (p_keys[i], p_leases[i], now_ms + p_b[i])
                  on conflict (key, lease) do update set expires_at = excluded.expires_at;
                select count(*) into cnt from rate_limit_leases where key = p_keys[i];
              used[i] := cnt;
              elsif p_types[i] = 'r' then
                ress[i] := ress[i] + p_a[i];
                if exps[i] is null and p_b[i] is not null then exps[i] := now_ms + p_b[i]; end if;
                update rate_limit_counters set value = vals[i], reserved = ress[i], expires_at = exps[i] where key = p_keys[i];
                used[i] := vals[i] + ress[i];
              end if;
            end loop;
          end if;
          return array[refused::bigint] || used[1:n] || rst[1:n];
        end $$`).execute(db);

      // Types: a = add tokens (a: amount, b: window), x = release lease, s = settle (a: reserved, b: actual, c: ttl).
      await sql.raw(`
        create or replace function rate_limit_give(p_keys text[], p_types text[], p_a bigint[], p_b bigint[], p_c bigint[], p_leases text[])
        returns void language plpgsql as $$
        declare
          now_ms bigint := (extract(epoch from clock_timestamp()) * 1000)::bigint;
          n int := coalesce(array_length(p_keys, 1), 0);
          r record;
          i int;
        begin
          if n = 0 then return; end if;
          insert into rate_limit_counters (key) select distinct k from unnest(p_keys) k order by 1 on conflict do nothing;
          perform 1 from rate_limit_counters where key = any(p_keys) order by key for update;
          for i in 1..n loop
            if p_types[i] = 'x' then
              delete from rate_limit_leases where key = p_keys[i] and lease = p_leases[i];
            elsif p_types[i] = 'a' then
              update rate_limit_counters set
                value = case when expires_at is not null and expires_at > now_ms then value + p_a[i] else p_a[i] end,
                expires_at = case when expires_at is not null and expires_at > now_ms then expires_at else now_ms + p_b[i] end
                where key = p_keys[i];
            else
              select value, reserved, expires_at into r from rate_limit_counters where key = p_keys[i];
              if r.expires_at is not null and r.expires_at <= now_ms then
                update rate_limit_counters set value = p_b[i], reserved = 0,
                  expires_at = case when p_c[i] is null then null else now_ms + p_c[i] end where key = p_keys[i];
              else
                update rate_limit_counters set value = value + p_b[i], reserved = greatest(0, reserved - p_a[i]),
                  expires_at = case when expires_at is null and p_c[i] is not null then now_ms + p_c[i] else expires_at end
                  where key = p_keys[i];
              end if;
            end if;
          end loop;
        end $$`).execute(db);
    },
  };
}
