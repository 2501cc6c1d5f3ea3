/**
 * `GET /api/v1/usage`: what the caller's organisation used, totals and optionally grouped by key,
 * model, provider, status, day or hour (UTC buckets), as JSON or CSV (`format=csv`). Always scoped
 * to the caller's organisation: another organisation's key id simply matches nothing.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { invalidRequest } from '../../errors.js';
import { parseInput } from '../../keys/input.js';
import { USAGE_GROUPS, type UsageEventRepository, type UsageGroup, type UsageGroupBy, type UsageTotals } from '../../store/usage-events.js';
import { toCsv, type CsvValue } from '../csv.js';

const DAY_MS = 86_400_000;
const DEFAULT_RANGE_MS = 30 * DAY_MS;

const query = z.object({
  from: z.string().max(64).optional(),
  to: z.string().max(64).optional(),
  key_id: z.string().min(1).max(64).optional(),
  model: z.string().min(1).max(256).optional(),
  provider: z.string().min(1).max(64).optional(),
  group_by: z.enum(USAGE_GROUPS).optional(),
  format: z.enum(['json', 'csv']).optional(),
}).strict();

const errorsQuery = query.omit({ group_by: true, format: true }).extend({ limit: z.coerce.number().int().min(1).max(200).optional() });

/** The field naming the group in each `data` entry (and the first CSV column). */
const GROUP_FIELD: Record<UsageGroupBy, string> = { key: 'key_id', model: 'model', provider: 'provider', status: 'status', day: 'day', hour: 'hour' };

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** ISO 8601 (a date, or a date and time; UTC unless an offset is given) or Unix seconds -> ms. */
export function parseTime(v: string, param: string): number {
  const bad = () => invalidRequest(`Invalid ${param}: expected an ISO 8601 time (2026-01-31T00:00:00Z) or Unix seconds`, param);
  if (/^\d{1,11}(\.\d{1,3})?$/.test(v)) return Math.round(Number(v) * 1000);
  const m = ISO.exec(v);
  if (!m) throw bad();
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m;
  // Date.parse rolls 2026-02-30 over into March; check each part instead.
  const daysInMonth = new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate();
  if (Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > daysInMonth || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) throw bad();
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${frac}${zone.toUpperCase()}`);
  if (!Number.isFinite(ms)) throw bad();
  return ms;
}

const iso = (ms: number) => new Date(ms).toISOString();
const usd = (n: number) => Math.round(n * 1e8) / 1e8;

function totalsJson(t: UsageTotals) {
  return {
    requests: t.requests, prompt_tokens: t.promptTokens, completion_tokens: t.completionTokens,
    cached_tokens: t.cachedTokens, cost_usd: usd(t.costUsd), errors: t.errors,
  };
}

const groupValue = (by: UsageGroupBy, g: UsageGroup): string | number | null =>
  (by === 'day' || by === 'hour') && typeof g.key === 'number' ? iso(g.key) : g.key;

const METRIC_COLUMNS = ['requests', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'cost_usd', 'errors'] as const;

export function usageRoutes(app: FastifyInstance, usage: UsageEventRepository): void {
  app.get('/usage', { config: { permission: 'usage:read' } }, async (request, reply) => {
    const q = parseInput(query, request.query);
    const to = q.to !== undefined ? parseTime(q.to, 'to') : Date.now();
    const from = q.from !== undefined ? parseTime(q.from, 'from') : to - DEFAULT_RANGE_MS;
    if (from >= to) throw invalidRequest('Invalid from: must be before to', 'from');

    const { totals, groups } = await usage.summarize({ orgId: request.auth.orgId, from, to, keyId: q.key_id, model: q.model, provider: q.provider, groupBy: q.group_by });
    const by = q.group_by;
    const data = by ? groups.map((g) => ({ [GROUP_FIELD[by]]: groupValue(by, g), ...totalsJson(g) })) : [];

    if (q.format === 'csv') {
      const rows: CsvValue[][] = by
        ? groups.map((g) => { const t = totalsJson(g); return [groupValue(by, g), ...METRIC_COLUMNS.map((c) => t[c])]; })
        : [METRIC_COLUMNS.map((c) => totalsJson(totals)[c])];
      reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename=usage.csv');
      return toCsv(by ? [GROUP_FIELD[by], ...METRIC_COLUMNS] : [...METRIC_COLUMNS], rows);
    }
    return { object: 'usage', from: iso(from), to: iso(to), group_by: by ?? null, totals: totalsJson(totals), data };
  });

  // The latest failed requests in the range (same filters), for "recent errors".
  app.get('/usage/errors', { config: { permission: 'usage:read' } }, async (request) => {
    const q = parseInput(errorsQuery, request.query);
    const to = q.to !== undefined ? parseTime(q.to, 'to') : Date.now();
    const from = q.from !== undefined ? parseTime(q.from, 'from') : to - DEFAULT_RANGE_MS;
    if (from >= to) throw invalidRequest('Invalid from: must be before to', 'from');
    const rows = await usage.recentErrors({ orgId: request.auth.orgId, from, to, keyId: q.key_id, model: q.model, provider: q.provider, limit: q.limit ?? 20 });
    return {
      object: 'list', has_more: false,
      data: rows.map((e) => ({
        object: 'usage_error', id: e.id, key_id: e.keyId, endpoint: e.endpoint, model: e.model, provider: e.provider,
        status: e.status, error_code: e.errorCode, latency_ms: Math.round(e.latencyMs), created_at: iso(e.createdAt),
      })),
    };
  });
}
