/**
 * The gateway's limiter, built once by the composition root. Per request:
 *
 * 1. `admit(key)` at the start of a handler: requests per minute, tokens per minute (the check
 *    before) and concurrency, for the key (its own limit, else its plan's default for keys) and its
 *    organisation (its own limit), all-or-nothing in one store call -> 429 `rate_limit_exceeded`.
 * 2. `admission.reserve(routes, need)` after routing: BYOK on a plan without it -> 403; the plan's
 *    monthly platform-token quota and the key's and organisation's budgets reserve the request's
 *    worst case atomically -> 429 `insufficient_quota`.
 * 3. `admission.finish(event)` exactly once when the Meter reports the request (success, failure or
 *    client gone): releases the concurrency slots, adds the actual tokens, settles reservations.
 *
 * A known organisation costs no store round trip (OrgCache); a request with no limit that applies
 * costs no limiter round trip at all. If the counter store (Redis) is unreachable, requests are let
 * through rather than refused (logged, at most every 10 s) and settlements are retried.
 */
import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { ApiError } from '../errors.js';
import type { ApiKey } from '../keys/types.js';
import type { PriceTable } from '../metering/prices.js';
import type { Organization } from '../store/organizations.js';
import { Admission } from './admission.js';
import { rateLimitHeaders, retryAfter, tighter, type WindowFigures } from './headers.js';
import type { LedgerTotals } from './ledger-seed.js';
import { OrgCache, type OrgView } from './org-cache.js';
import type { PlanBook } from './plans.js';
import type { Give, RateLimitStore, Take, TakeResult } from './store.js';

export interface LimiterDeps {
  store: RateLimitStore;
  plans: PlanBook;
  /** Loads an organisation (plan and own limits) on a cache miss. */
  loadOrg: (orgId: string) => Promise<Organization | undefined>;
  ledger: LedgerTotals;
  prices: PriceTable;
  log: { warn(o: object, m: string): void; error(o: object, m: string): void };
  /** Length of the rpm and tpm windows (default one minute). */
  windowMs?: number;
  /** How long a concurrency slot survives an instance that died holding it (Redis). */
  leaseTtlMs?: number;
  now?: () => number;
}

type Kind = 'rpm' | 'tpm' | 'concurrency';
interface Check { kind: Kind; scope: 'key' | 'org'; take: Take }

const RETRY_EVERY_MS = 1000;
const MAX_RETRY_QUEUE = 100_000;

export class Limiter {
  readonly orgs: OrgCache;
  readonly store: RateLimitStore;
  readonly prices: PriceTable;
  readonly ledger: LedgerTotals;
  readonly now: () => number;
  private readonly windowMs: number;
  private readonly leaseTtlMs: number;
  private readonly log: LimiterDeps['log'];
  private readonly seeded = new LRUCache<string, true>({ max: 200_000 });
  private readonly seeding = new Map<string, Promise<void>>();
  private readonly pending = new Set<Promise<void>>();
  private retryQueue: Give[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private lastOutageLog = 0;

  constructor(deps: LimiterDeps) {
    this.store = deps.store;
    this.prices = deps.prices;
    this.ledger = deps.ledger;
    this.log = deps.log;
    this.now = deps.now ?? Date.now;
    this.windowMs = deps.windowMs ?? 60_000;
    this.leaseTtlMs = deps.leaseTtlMs ?? 15 * 60_000;
    this.orgs = new OrgCache(deps.loadOrg, deps.plans);
  }

  /** Admit a request for `key` now, or throw 429 `rate_limit_exceeded` (with Retry-After and headers). */
  async admit(key: ApiKey): Promise<Admission> {
    const view = this.orgs.peek(key.orgId) ?? (await this.orgs.get(key.orgId));
    const checks = this.checksFor(key, view);
    if (checks.length === 0) return new Admission(this, key, view, {}, [], []);
    const res = await this.take(checks.map((c) => c.take));
    if (!res) return new Admission(this, key, view, {}, [], []);

    let requests: WindowFigures | undefined;
    let tokens: WindowFigures | undefined;
    checks.forEach((c, i) => {
      const s = res.states[i]!;
      const f = { limit: c.take.limit, remaining: c.take.limit - s.used, resetMs: s.resetMs };
      if (c.kind === 'rpm') requests = tighter(requests, f);
      else if (c.kind === 'tpm') tokens = tighter(tokens, f);
    });
    const headers = rateLimitHeaders(requests, tokens);
    if (!res.ok) throw refusal(checks[res.index]!, res.states[res.index]!.resetMs, headers);

    const releases: Give[] = [];
    const tpm: { key: string; windowMs: number }[] = [];
    for (const c of checks) {
      if (c.take.type === 'gauge') releases.push({ type: 'release', key: c.take.key, lease: c.take.lease });
      else if (c.take.type === 'level') tpm.push({ key: c.take.key, windowMs: c.take.windowMs });
    }
    return new Admission(this, key, view, headers, releases, tpm);
  }

  /** The change feed reported a change to this organisation (plan or limits). */
  invalidateOrg(orgId: string): void {
    this.orgs.invalidate(orgId);
  }

  /** Store call that lets the request through (null) when the store cannot answer. */
  async take(takes: readonly Take[]): Promise<TakeResult | null> {
    try {
      return await this.store.take(takes);
    } catch (err) {
      this.outage(err);
      return null;
    }
  }

  /** Fire-and-forget settlement; kept for a retry when the store cannot take it now. */
  give(gives: Give[]): void {
    if (gives.length === 0) return;
    const p: Promise<void> = this.store.give(gives).catch((err: unknown) => {
      this.outage(err);
      this.queueRetry(gives);
    }).finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Start a budget/quota counter from the usage ledger, once per scope per process. */
  async seed(key: string, ttlMs: number | null, load: () => Promise<number>): Promise<void> {
    if (this.seeded.has(key)) return;
    let p = this.seeding.get(key);
    if (!p) {
      p = (async () => {
        let spent: number;
        try {
          spent = await load();
        } catch {
          // Starting from zero would forget what was spent before this process started.
          throw new ApiError('service_unavailable', 'The usage ledger is unavailable to check a budget; try again shortly');
        }
        try {
          await this.store.seed(key, spent, ttlMs);
          this.seeded.set(key, true);
        } catch (err) {
          this.outage(err);
        }
      })().finally(() => this.seeding.delete(key));
      this.seeding.set(key, p);
    }
    return p;
  }

  /** Wait for settlements in flight (after the HTTP server has drained), then close the store. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    if (this.retryTimer) clearInterval(this.retryTimer);
    if (this.retryQueue.length) await this.store.give(this.retryQueue).catch((err: unknown) => this.outage(err));
    await this.store.close();
  }

  private checksFor(key: ApiKey, view: OrgView): Check[] {
    const o = `{${key.orgId}}`;
    const checks: Check[] = [];
    let lease: string | undefined; // unique across instances: names this request's concurrency slots
    const add = (kind: Kind, scope: 'key' | 'org', limit: number | null) => {
      if (limit === null) return;
      const id = scope === 'key' ? `k:${key.id}` : 'o';
      const k = `${o}:${kind}:${id}`;
      const take: Take = kind === 'rpm' ? { type: 'count', key: k, limit, windowMs: this.windowMs }
        : kind === 'tpm' ? { type: 'level', key: k, limit, windowMs: this.windowMs }
          : { type: 'gauge', key: k, limit, lease: (lease ??= randomUUID()), ttlMs: this.leaseTtlMs };
      checks.push({ kind, scope, take });
    };
    add('rpm', 'key', key.limits.rpm ?? view.plan.rpm);
    add('rpm', 'org', view.limits.rpm);
    add('tpm', 'key', key.limits.tpm ?? view.plan.tpm);
    add('tpm', 'org', view.limits.tpm);
    add('concurrency', 'key', key.limits.concurrency ?? view.plan.concurrency);
    add('concurrency', 'org', view.limits.concurrency);
    return checks;
  }

  private queueRetry(gives: Give[]): void {
    if (this.retryQueue.length + gives.length > MAX_RETRY_QUEUE) {
      this.log.error({ dropped: gives.length }, 'limit settlements could not be stored and the retry queue is full; counters may stay high until their window or period ends');
      return;
    }
    this.retryQueue.push(...gives);
    this.retryTimer ??= setInterval(() => {
      const batch = this.retryQueue;
      if (batch.length === 0) return;
      this.retryQueue = [];
      this.store.give(batch).catch(() => { this.retryQueue.unshift(...batch); });
    }, RETRY_EVERY_MS);
    this.retryTimer.unref();
  }

  private outage(err: unknown): void {
    const now = Date.now();
    if (now - this.lastOutageLog < 10_000) return;
    this.lastOutageLog = now;
    this.log.warn({ err: (err as Error).message, store: this.store.kind }, 'limit store unavailable; requests are let through without limits until it answers again');
  }
}

const WHO = { key: 'this API key', org: 'this organisation' } as const;

function refusal(c: Check, resetMs: number, headers: Record<string, string>): ApiError {
  const who = WHO[c.scope];
  const limit = c.take.limit;
  if (c.kind === 'concurrency') {
    return new ApiError('rate_limit_exceeded', `Too many concurrent requests: ${who} allows ${limit} at a time. Retry when one has finished.`, {
      headers: { ...headers, 'retry-after': '1' },
    });
  }
  const what = c.kind === 'rpm' ? 'requests' : 'tokens';
  const wait = retryAfter(resetMs);
  return new ApiError('rate_limit_exceeded', `Rate limit reached for ${what}: ${who} allows ${limit} ${what} per minute. Try again in ${wait}s.`, {
    headers: { ...headers, 'retry-after': wait },
  });
}
