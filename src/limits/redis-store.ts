/**
 * `RateLimitStore` in Redis, shared by every instance: each batch is one Lua script, so checking
 * and applying all of a request's scopes is one atomic step and one round trip. Times come from
 * the Redis server (`TIME`, key TTLs), never from the instances' clocks, so windows agree across
 * instances. Keys carry their organisation as a hash tag (`{org_...}`) so a batch stays in one
 * slot on Redis Cluster.
 *
 * Layout: a window is a string counter with a TTL of the window length (set at its first use); a
 * concurrency gauge is a sorted set of leases scored by their expiry (a crashed instance's leases
 * are dropped when they expire); a budget is a hash {spent, reserved} that lives until its period
 * has ended (plus a day, for requests still settling).
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { BudgetState, Give, RateLimitStore, ScopeState, Take, TakeResult } from './store.js';

const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** ARGV per take: type, limit, a, b. Returns {refused index (0 = none), used..., reset...}. */
const TAKE = `
${NOW}
local n = #KEYS
local used, reset = {}, {}
local refused = 0
for i = 1, n do
  local k, o = KEYS[i], (i - 1) * 4
  local ty, limit, a = ARGV[o + 1], tonumber(ARGV[o + 2]), ARGV[o + 3]
  local u, r, ok
  if ty == 'c' or ty == 'l' then
    r = redis.call('PTTL', k)
    if r < 0 then u = 0; r = tonumber(a) else u = tonumber(redis.call('GET', k) or '0') end
    ok = u < limit
  elseif ty == 'g' then
    redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
    u = redis.call('ZCARD', k); r = 0
    ok = u < limit
  else
    local v = redis.call('HMGET', k, 'spent', 'reserved')
    u = tonumber(v[1] or '0') + tonumber(v[2] or '0'); r = 0
    ok = u + tonumber(a) <= limit
  end
  used[i] = u; reset[i] = r
  if not ok and refused == 0 then refused = i end
end
if refused == 0 then
  for i = 1, n do
    local k, o = KEYS[i], (i - 1) * 4
    local ty, a, b = ARGV[o + 1], ARGV[o + 3], ARGV[o + 4]
    if ty == 'c' then
      used[i] = redis.call('INCR', k)
      if redis.call('PTTL', k) < 0 then redis.call('PEXPIRE', k, a) end
      reset[i] = redis.call('PTTL', k)
    elseif ty == 'g' then
      redis.call('ZADD', k, now + tonumber(b), a)
      redis.call('PEXPIRE', k, b)
      used[i] = redis.call('ZCARD', k)
    elseif ty == 'r' then
      local total = redis.call('HINCRBY', k, 'reserved', a)
      used[i] = total + tonumber(redis.call('HGET', k, 'spent') or '0')
      if b ~= '' and redis.call('PTTL', k) < 0 then redis.call('PEXPIRE', k, b) end
    end
  end
end
local out = { refused }
for i = 1, n do out[#out + 1] = used[i] end
for i = 1, n do out[#out + 1] = reset[i] end
return out`;

/** ARGV per give: type, a, b, c (settle: a = minus the amount reserved, b = the actual amount). */
const GIVE = `
for i = 1, #KEYS do
  local k, o = KEYS[i], (i - 1) * 4
  local ty, a, b, c = ARGV[o + 1], ARGV[o + 2], ARGV[o + 3], ARGV[o + 4]
  if ty == 'a' then
    redis.call('INCRBY', k, a)
    if redis.call('PTTL', k) < 0 then redis.call('PEXPIRE', k, b) end
  elseif ty == 'r' then
    redis.call('ZREM', k, a)
  else
    if redis.call('HINCRBY', k, 'reserved', a) < 0 then redis.call('HSET', k, 'reserved', 0) end
    redis.call('HINCRBY', k, 'spent', b)
    if c ~= '' and redis.call('PTTL', k) < 0 then redis.call('PEXPIRE', k, c) end
  end
end
return 1`;

const SEED = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'spent', ARGV[1], 'reserved', 0)
if ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`;

type Scripted = Redis & {
  bbTake(n: number, ...args: (string | number)[]): Promise<number[]>;
  bbGive(n: number, ...args: (string | number)[]): Promise<number>;
  bbSeed(key: string, ...args: (string | number)[]): Promise<number>;
};

/** Thrown when Redis cannot answer now; the limiter decides what that means for the request. */
export class LimitStoreUnavailable extends Error {}

const int = (n: number): string => String(Math.round(n));

export class RedisRateLimitStore implements RateLimitStore {
  readonly kind = 'redis' as const;
  private readonly redis: Scripted;

  /** `prefix` namespaces every key (several deployments, or test runs, can share one Redis). */
  constructor(urlOrClient: string | Redis, private readonly prefix = 'backbone:', options: RedisOptions = {}) {
    const redis = typeof urlOrClient === 'string'
      ? new Redis(urlOrClient, { maxRetriesPerRequest: 1, commandTimeout: 2000, ...options })
      : urlOrClient;
    redis.defineCommand('bbTake', { lua: TAKE });
    redis.defineCommand('bbGive', { lua: GIVE });
    redis.defineCommand('bbSeed', { numberOfKeys: 1, lua: SEED });
    // An error event without a listener would crash the process; the limiter logs failed calls.
    redis.on('error', () => {});
    this.redis = redis as Scripted;
  }

  /** Wait until connected (at start), up to `timeoutMs`; false when Redis did not answer. */
  async ready(timeoutMs = 5000): Promise<boolean> {
    if (this.redis.status === 'ready') return true;
    return new Promise((resolve) => {
      const done = (ok: boolean) => { clearTimeout(timer); this.redis.off('ready', onReady); resolve(ok); };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.redis.once('ready', onReady);
    });
  }

  async take(takes: readonly Take[]): Promise<TakeResult> {
    this.assertReady();
    const keys: string[] = [];
    const args: (string | number)[] = [];
    for (const t of takes) {
      keys.push(this.prefix + t.key);
      if (t.type === 'count') args.push('c', t.limit, t.windowMs, '');
      else if (t.type === 'level') args.push('l', t.limit, t.windowMs, '');
      else if (t.type === 'gauge') args.push('g', t.limit, t.lease, t.ttlMs);
      else args.push('r', int(t.limit), int(t.amount), t.ttlMs === null ? '' : Math.ceil(t.ttlMs));
    }
    const out = await this.redis.bbTake(keys.length, ...keys, ...args);
    const n = takes.length;
    const states: ScopeState[] = takes.map((_, i) => ({ used: Number(out[1 + i]), resetMs: Math.max(0, Number(out[1 + n + i])) }));
    const refused = Number(out[0]);
    return refused === 0 ? { ok: true, states } : { ok: false, index: refused - 1, states };
  }

  async give(gives: readonly Give[]): Promise<void> {
    if (gives.length === 0) return;
    this.assertReady();
    const keys: string[] = [];
    const args: (string | number)[] = [];
    for (const g of gives) {
      keys.push(this.prefix + g.key);
      if (g.type === 'add') args.push('a', int(g.amount), g.windowMs, '');
      else if (g.type === 'release') args.push('r', g.lease, '', '');
      else args.push('s', int(-g.reserved), int(g.actual), g.ttlMs === null ? '' : Math.ceil(g.ttlMs));
    }
    await this.redis.bbGive(keys.length, ...keys, ...args);
  }

  async seed(key: string, spent: number, ttlMs: number | null): Promise<void> {
    this.assertReady();
    await this.redis.bbSeed(this.prefix + key, int(spent), ttlMs === null ? '' : Math.ceil(ttlMs));
  }

  async budget(key: string): Promise<BudgetState> {
    const [spent, reserved] = await this.redis.hmget(this.prefix + key, 'spent', 'reserved');
    return { spent: Number(spent ?? 0), reserved: Number(reserved ?? 0) };
  }

  /** Resolves when Redis answers now (the fail-over wrapper's probe). */
  async ping(): Promise<void> {
    this.assertReady();
    await this.redis.ping();
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** Fail fast while disconnected instead of queueing behind a reconnect on the request path. */
  private assertReady(): void {
    if (this.redis.status !== 'ready') throw new LimitStoreUnavailable(`Redis is ${this.redis.status}`);
  }
}
