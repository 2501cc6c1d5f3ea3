/**
 * One admitted request's hold on its limits: the rate-limit headers to send, the concurrency
 * slots to release, the token windows to add to, and (after `reserve`) the budget and quota
 * reservations to settle. `finish` runs exactly once, with the request's final usage event.
 */
import { ApiError } from '../errors.js';
import type { ApiKey } from '../keys/types.js';
import type { UsageEvent } from '../metering/usage.js';
import { costOf } from '../metering/prices.js';
import type { NeedOf, RouteLike } from './estimate.js';
import type { Limiter } from './limiter.js';
import type { OrgView } from './org-cache.js';
import { periodOf, periodTtlMs } from './periods.js';
import type { Give, Take } from './store.js';

/** Budgets are counted in nano-USD, so both stores add integers exactly. */
const NANO = 1e9;
const ADJECTIVE = { day: 'daily', week: 'weekly', month: 'monthly' } as const;

interface Reservation { kind: 'quota' | 'key-budget' | 'org-budget'; take: Take & { type: 'reserve' } }

export class Admission {
  private reservations: Reservation[] = [];
  private done = false;

  constructor(
    private readonly limiter: Limiter,
    private readonly key: ApiKey,
    private readonly view: OrgView,
    /** `x-ratelimit-*` for every response to this request (empty when no rate limit applies). */
    readonly headers: Readonly<Record<string, string>>,
    private readonly releases: Give[],
    private readonly tpm: { key: string; windowMs: number }[],
  ) {}

  /**
   * After routing, before the provider is called: refuse BYOK on a plan without it (403), and
   * reserve the worst case (the most expensive of the routes that may serve it) against the plan's
   * monthly platform-token quota and the key's and organisation's budgets (429 insufficient_quota).
   */
  async reserve(routes: readonly RouteLike[], need: NeedOf): Promise<void> {
    const primary = routes[0];
    if (!primary || this.done) return;
    const { plan } = this.view;
    if (primary.byok && !plan.byok) {
      throw new ApiError('byok_not_available', `Bring Your Own Key (provider/model) is not available on the '${plan.name}' plan; it needs the Scale plan or above`, { param: 'model' });
    }
    const now = this.limiter.now();
    const o = `{${this.key.orgId}}`;
    const wanted: Reservation[] = [];
    const seeds: Promise<void>[] = [];

    const platform = routes.filter((r) => !r.byok);
    if (plan.monthlyPlatformTokens !== null && platform.length > 0) {
      const w = periodOf('month', now);
      const key = `${o}:quota:${w.id}`;
      const ttlMs = periodTtlMs(w, now);
      const tokens = Math.max(...platform.map((r) => { const n = need(r); return n.promptTokens + n.completionTokens; }));
      seeds.push(this.limiter.seed(key, ttlMs, () => this.limiter.ledger.platformTokensSince(this.key.orgId, w.start)));
      wanted.push({ kind: 'quota', take: { type: 'reserve', key, limit: plan.monthlyPlatformTokens, amount: tokens, ttlMs } });
    }
    const budgets: [Reservation['kind'], ApiKey['limits'], string, string | null][] = [
      ['key-budget', this.key.limits, `k:${this.key.id}`, this.key.id],
      ['org-budget', this.view.limits, 'o', null],
    ];
    let cost: number | undefined;
    for (const [kind, limits, id, keyId] of budgets) {
      if (limits.budgetUsd === null) continue;
      cost ??= this.worstCost(routes, need, now);
      const w = periodOf(limits.budgetPeriod, now);
      const key = `${o}:budget:${id}:${limits.budgetPeriod ?? 'all'}:${w.id}`;
      const ttlMs = periodTtlMs(w, now);
      seeds.push(this.limiter.seed(key, ttlMs, async () => Math.round((await this.limiter.ledger.costSince(this.key.orgId, keyId, w.start)) * NANO)));
      wanted.push({ kind, take: { type: 'reserve', key, limit: Math.round(limits.budgetUsd * NANO), amount: Math.ceil(cost * NANO), ttlMs } });
    }
    if (wanted.length === 0) return;
    await Promise.all(seeds);

    const res = await this.limiter.take(wanted.map((r) => r.take));
    if (!res) return;
    if (!res.ok) throw this.exhausted(wanted[res.index]!);
    if (this.done) {
      // Finished while reserving (cannot happen in the handlers' order; cheap to be safe): give it back.
      this.limiter.give(wanted.map((r) => ({ type: 'settle', key: r.take.key, reserved: r.take.amount, actual: 0, ttlMs: r.take.ttlMs })));
      return;
    }
    this.reservations = wanted;
  }

  /** Release and settle, exactly once. `event` is null when the request ended before it was metered. */
  finish(event: UsageEvent | null): void {
    if (this.done) return;
    this.done = true;
    const gives: Give[] = [...this.releases];
    const tokens = event ? event.promptTokens + event.completionTokens : 0;
    if (tokens > 0) for (const t of this.tpm) gives.push({ type: 'add', key: t.key, amount: tokens, windowMs: t.windowMs });
    for (const r of this.reservations) {
      const actual = r.kind === 'quota' ? (event && !event.byok ? tokens : 0) : Math.round((event?.costUsd ?? 0) * NANO);
      gives.push({ type: 'settle', key: r.take.key, reserved: r.take.amount, actual, ttlMs: r.take.ttlMs });
    }
    this.limiter.give(gives);
  }

  /** The most any of the routes could cost; prompt tokens priced as cache writes where those cost more. */
  private worstCost(routes: readonly RouteLike[], need: NeedOf, at: number): number {
    let worst = 0;
    for (const r of routes) {
      const bare = r.byok ? r.upstreamModel : r.requestedModel;
      const price = this.limiter.prices.lookup(r.provider, r.upstreamModel, at) ?? this.limiter.prices.lookup(r.provider, bare, at);
      if (!price) continue;
      const n = need(r);
      const asWrites = (price.cacheWrite ?? 0) > price.input;
      worst = Math.max(worst, costOf(price, {
        promptTokens: n.promptTokens, completionTokens: n.completionTokens, cachedTokens: 0,
        cacheWriteTokens: asWrites ? n.promptTokens : 0, reasoningTokens: 0,
      }, n.audioSeconds));
    }
    return worst;
  }

  private exhausted(r: Reservation): ApiError {
    const { plan } = this.view;
    if (r.kind === 'quota') {
      return new ApiError('insufficient_quota', `This organisation has used its monthly platform token quota of the '${plan.name}' plan (${plan.monthlyPlatformTokens} tokens), or this request could exceed it (up to ${r.take.amount} tokens; set max_tokens to reserve less). BYOK models do not count against it.`);
    }
    const limits = r.kind === 'key-budget' ? this.key.limits : this.view.limits;
    const period = limits.budgetPeriod === null ? '' : ` ${ADJECTIVE[limits.budgetPeriod]}`;
    const who = r.kind === 'key-budget' ? 'this API key' : 'this organisation';
    return new ApiError('insufficient_quota', `The${period} budget of ${who} ($${limits.budgetUsd}) is used up, or this request could exceed it; set max_tokens to reserve less.`);
  }
}
