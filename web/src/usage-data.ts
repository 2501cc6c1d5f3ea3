/** Usage queries shared by Overview and Usage: ranges, zero-filled time buckets, labels. */
import { get, type UsageResponse, type UsageTotals } from './api';

export type Range = '24h' | '7d' | '30d' | '90d';
export const RANGES: { value: Range; label: string }[] = [
  { value: '24h', label: 'Last 24 hours' }, { value: '7d', label: 'Last 7 days' }, { value: '30d', label: 'Last 30 days' }, { value: '90d', label: 'Last 90 days' },
];

const HOUR = 3_600_000;
const DAY = 86_400_000;

export interface Filters { range: Range; keyId?: string; model?: string; provider?: string }

export function rangeParams(f: Filters, extra: Record<string, string> = {}): URLSearchParams {
  const now = Date.now();
  const span = f.range === '24h' ? DAY : Number(f.range.slice(0, -1)) * DAY;
  const bucket = f.range === '24h' ? HOUR : DAY;
  // Whole buckets, so the first bar is not a partial one.
  const from = Math.floor((now - span) / bucket) * bucket + bucket;
  const p = new URLSearchParams({ from: new Date(from).toISOString(), to: new Date(now + 1000).toISOString(), ...extra });
  if (f.keyId) p.set('key_id', f.keyId);
  if (f.model) p.set('model', f.model);
  if (f.provider) p.set('provider', f.provider);
  return p;
}

export interface Timeline { labels: string[]; points: UsageTotals[]; totals: UsageTotals }

const ZERO: UsageTotals = { requests: 0, prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0, cost_usd: 0, errors: 0 };

/** Requests, tokens, cost and errors per hour (24h) or day, every bucket present. */
export async function loadTimeline(f: Filters): Promise<Timeline> {
  const hourly = f.range === '24h';
  const params = rangeParams(f, { group_by: hourly ? 'hour' : 'day' });
  const res = await get<UsageResponse>(`/usage?${params}`);
  const byTime = new Map(res.data.map((d) => [Date.parse(String(d[hourly ? 'hour' : 'day'])), d]));
  const bucket = hourly ? HOUR : DAY;
  const labels: string[] = [];
  const points: UsageTotals[] = [];
  for (let t = Math.floor(Date.parse(res.from) / bucket) * bucket; t < Date.parse(res.to); t += bucket) {
    const d = new Date(t);
    labels.push(hourly ? d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }) : d.toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' }));
    points.push(byTime.get(t) ?? ZERO);
  }
  return { labels, points, totals: res.totals };
}

export async function loadGroups(f: Filters, by: 'key' | 'model' | 'provider' | 'status'): Promise<(UsageTotals & { group: string })[]> {
  const field = by === 'key' ? 'key_id' : by;
  const res = await get<UsageResponse>(`/usage?${rangeParams(f, { group_by: by })}`);
  return res.data.map((d) => ({ ...d, group: String(d[field] ?? '—') })).sort((a, b) => b.requests - a.requests);
}
