/**
 * Prometheus metrics (prom-client), one registry per app (no module state, so tests can build many).
 *
 * Cheap on the hot path: the gateway's usage events feed the request counters and histograms
 * through label children cached per provider / model / status (nested maps, no string building per
 * request); everything else (queue depth, store and channel states, cache size) is read when
 * /metrics is scraped. With `--workers N` a worker answering /metrics asks the primary, which
 * aggregates every worker's registry (prom-client's AggregatorRegistry): counters and histograms
 * are summed, state gauges use the worst worker (min/max).
 */
import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { UsageEvent, UsageSink } from '../metering/usage.js';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Distinct provider/model pairs tracked; beyond it, models are reported as `other`. */
const MAX_SERIES = 2000;

type Lbl = string;
interface ByStatus { requests: Counter.Internal; latency: Histogram.Internal<Lbl> }
interface ByModel { statuses: Map<number, ByStatus>; ttft: Histogram.Internal<Lbl>; prompt: Counter.Internal; completion: Counter.Internal; cached: Counter.Internal }

export interface MetricSources {
  usageQueue(): { queued: number; dropped: number };
  keyCache(): { size: number; hits: number; misses: number };
  /** 1 when the store answers. */
  storeUp(): number;
  /** 1 when limits are shared across instances (or there is nothing to share: memory), 0 when counted locally during an outage. */
  limitsShared(): number;
  /** 1 when the invalidation channel is up, 0 when polling (always 0 for the poll-only bus). */
  invalidationPush(): number;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'provider' | 'model' | 'status'>;
  private readonly latency: Histogram<'provider' | 'model' | 'status'>;
  private readonly ttft: Histogram<'provider' | 'model'>;
  private readonly tokens: Counter<'provider' | 'model' | 'type'>;
  private readonly rejections: Counter<'code'>;
  readonly limitFallbacks: Counter;
  readonly invalidationDrops: Counter;
  private readonly byProvider = new Map<string, Map<string, ByModel>>();
  private series = 0;

  constructor(sources: MetricSources, opts: { defaultMetrics?: boolean } = {}) {
    const r = this.registry;
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: r, eventLoopMonitoringPrecision: 20 });
    this.requests = new Counter({ name: 'backbone_requests_total', help: 'Gateway requests by provider, model and HTTP status', labelNames: ['provider', 'model', 'status'], registers: [r] });
    this.latency = new Histogram({ name: 'backbone_request_duration_seconds', help: 'Gateway request latency (to the last byte)', labelNames: ['provider', 'model', 'status'], buckets: LATENCY_BUCKETS, registers: [r] });
    this.ttft = new Histogram({ name: 'backbone_time_to_first_token_seconds', help: 'Time to the first streamed token', labelNames: ['provider', 'model'], buckets: LATENCY_BUCKETS, registers: [r] });
    this.tokens = new Counter({ name: 'backbone_tokens_total', help: 'Tokens by provider, model and type (prompt includes cached)', labelNames: ['provider', 'model', 'type'], registers: [r] });
    this.rejections = new Counter({ name: 'backbone_limit_rejections_total', help: 'Requests refused by a rate limit (rate_limit_exceeded) or a quota/budget (insufficient_quota)', labelNames: ['code'], registers: [r] });
    this.limitFallbacks = new Counter({ name: 'backbone_limits_fallbacks_total', help: 'Times this instance fell back to counting limits locally because the shared store was unreachable', registers: [r] });
    this.invalidationDrops = new Counter({ name: 'backbone_invalidation_channel_drops_total', help: 'Times the invalidation channel (Redis pub/sub, PostgreSQL LISTEN) dropped', registers: [r] });
    const gauge = (name: string, help: string, read: () => number, aggregator: 'sum' | 'min' | 'max' = 'sum') =>
      new Gauge({ name, help, registers: [r], aggregator, collect() { this.set(read()); } });
    gauge('backbone_usage_queue_depth', 'Usage rows waiting to be written to the store', () => sources.usageQueue().queued);
    // Totals kept elsewhere, exposed as counters (incremented by the difference at each scrape).
    const total = (name: string, help: string, read: () => number) => {
      let last = 0;
      return new Counter({ name, help, registers: [r], collect() { const v = read(); if (v > last) this.inc(v - last); last = v; } });
    };
    total('backbone_usage_rows_dropped_total', 'Usage rows lost (queue overflow, refused by the store, or unwritten at the shutdown deadline)', () => sources.usageQueue().dropped);
    gauge('backbone_key_cache_entries', 'Keys held in the hot-key cache', () => sources.keyCache().size);
    total('backbone_key_cache_hits_total', 'Key verifications answered from memory', () => sources.keyCache().hits);
    total('backbone_key_cache_misses_total', 'Key verifications that needed a store lookup', () => sources.keyCache().misses);
    gauge('backbone_store_up', '1 when the store (database) answers, 0 when it is unreachable (worst instance with several workers)', () => sources.storeUp(), 'min');
    gauge('backbone_limits_shared', '1 when limits are counted in the shared store (or memory by configuration), 0 while counted per instance during an outage', () => sources.limitsShared(), 'min');
    gauge('backbone_invalidation_push', '1 when the invalidation channel is up, 0 when the change feed is polled', () => sources.invalidationPush(), 'min');
    if (cluster.isWorker) {
      // Answer the primary's aggregation requests with this registry (see workers.ts).
      new AggregatorRegistry();
      AggregatorRegistry.setRegistries([r]);
    }
  }

  /** Wrap the usage sink: every metered gateway request is counted on its way to the ledger. */
  wrapSink(sink: UsageSink): UsageSink {
    return { record: (e: UsageEvent) => { this.observe(e); sink.record(e); } };
  }

  observe(e: UsageEvent): void {
    const m = this.model(e.provider ?? 'none', e.model);
    let s = m.statuses.get(e.status);
    if (!s) {
      const labels = { provider: e.provider ?? 'none', model: this.modelLabel(m), status: String(e.status) };
      s = { requests: this.requests.labels(labels), latency: this.latency.labels(labels) };
      m.statuses.set(e.status, s);
    }
    s.requests.inc();
    s.latency.observe(e.latencyMs / 1000);
    if (e.ttftMs !== null) m.ttft.observe(e.ttftMs / 1000);
    if (e.promptTokens) m.prompt.inc(e.promptTokens);
    if (e.completionTokens) m.completion.inc(e.completionTokens);
    if (e.cachedTokens) m.cached.inc(e.cachedTokens);
  }

  /** A request refused by a limit, a budget or a quota (counted where the error is rendered). */
  rejected(code: string): void {
    this.rejections.labels({ code }).inc();
  }

  private readonly labelOf = new WeakMap<ByModel, string>();
  private modelLabel(m: ByModel): string {
    return this.labelOf.get(m) ?? 'other';
  }

  private model(provider: string, model: string): ByModel {
    let models = this.byProvider.get(provider);
    if (!models) this.byProvider.set(provider, (models = new Map()));
    let m = models.get(model);
    if (m) return m;
    const label = this.series < MAX_SERIES ? model : 'other';
    if (label === 'other') {
      const other = models.get('\0other');
      if (other) { models.set(model, other); return other; }
    }
    this.series++;
    const tl = (type: string) => this.tokens.labels({ provider, model: label, type });
    m = { statuses: new Map(), ttft: this.ttft.labels({ provider, model: label }), prompt: tl('prompt'), completion: tl('completion'), cached: tl('cached') };
    this.labelOf.set(m, label);
    models.set(model, m);
    if (label === 'other') models.set('\0other', m);
    return m;
  }
}

/** A worker's /metrics: ask the primary for the aggregate of every worker (falls back to this worker's own). */
export function clusterMetrics(own: Registry, timeoutMs = 5000): Promise<string> {
  if (!cluster.isWorker || !process.send) return own.metrics();
  const id = randomUUID();
  return new Promise((resolve) => {
    const done = (text: string | undefined) => {
      clearTimeout(timer);
      process.off('message', onMessage);
      if (text !== undefined) resolve(text);
      else own.metrics().then((t) => resolve(`# aggregation across workers failed; this worker only\n${t}`), () => resolve(''));
    };
    const onMessage = (msg: unknown) => {
      const m = msg as { type?: string; id?: string; text?: string; error?: string };
      if (m?.type === 'backbone:metrics:res' && m.id === id) done(m.error ? undefined : m.text);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    process.on('message', onMessage);
    process.send!({ type: 'backbone:metrics:req', id });
  });
}
