/**
 * Each organisation's plan and own limits, held in memory so a request for a known organisation
 * costs no store round trip. Bounded (LRU), with a TTL as a safety net behind the explicit
 * invalidation the change feed delivers (`orgs update` on the CLI or another instance). An epoch
 * keeps a load that was in flight during a change from putting back what it read before it.
 */
import { LRUCache } from 'lru-cache';
import { TTL_RESOLUTION_MS } from '../lru-ttl.js';
import { ApiError } from '../errors.js';
import type { Organization } from '../store/organizations.js';
import { NO_LIMITS, type Limits } from './types.js';
import type { Plan, PlanBook } from './plans.js';

export interface OrgView {
  orgId: string;
  plan: Plan;
  /** The organisation's own limits (over all its keys together). */
  limits: Limits;
}

export class OrgCache {
  private readonly lru: LRUCache<string, OrgView>;
  private readonly inflight = new Map<string, Promise<OrgView>>();
  private epoch = 0;

  constructor(
    private readonly load: (orgId: string) => Promise<Organization | undefined>,
    private readonly plans: PlanBook,
    opts: { max?: number; ttlMs?: number } = {},
  ) {
    // Expired entries stay until evicted, so a store outage can fall back on them (the key check bounds how long).
    this.lru = new LRUCache({ max: opts.max ?? 100_000, ttl: opts.ttlMs ?? 5 * 60_000, noDeleteOnStaleGet: true, ttlResolution: TTL_RESOLUTION_MS });
  }

  /** The cached view, or undefined when it must be loaded. */
  peek(orgId: string): OrgView | undefined {
    return this.lru.get(orgId);
  }

  get(orgId: string): Promise<OrgView> {
    const hit = this.lru.get(orgId);
    if (hit) return Promise.resolve(hit);
    let p = this.inflight.get(orgId);
    if (p) return p;
    const epoch = this.epoch;
    p = this.load(orgId).then(
      (org) => {
        // A missing organisation (deleted under a cached key) gets the smallest plan.
        const view: OrgView = { orgId, plan: this.plans.get(org?.plan ?? 'free'), limits: org?.limits ?? NO_LIMITS };
        if (epoch === this.epoch) this.lru.set(orgId, view);
        return view;
      },
      () => {
        const stale = this.lru.get(orgId, { allowStale: true });
        if (stale) return stale;
        throw new ApiError('service_unavailable', 'The organisation store is unavailable; try again shortly');
      },
    ).finally(() => this.inflight.delete(orgId));
    this.inflight.set(orgId, p);
    return p;
  }

  invalidate(orgId: string): void {
    this.epoch++;
    this.lru.delete(orgId);
    this.inflight.delete(orgId);
  }
}
