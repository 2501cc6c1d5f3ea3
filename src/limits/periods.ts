/**
 * Budget and quota periods in UTC (`day`, `week` from Monday, calendar `month`; null = the whole
 * lifetime), and OpenAI's duration format for the `x-ratelimit-reset-*` headers.
 */
export type BudgetPeriod = 'day' | 'week' | 'month';
export const BUDGET_PERIODS: readonly BudgetPeriod[] = ['day', 'week', 'month'];

export interface PeriodWindow {
  /** Part of the counter's key: the period's first day (`2026-05-01`), or `all`. */
  id: string;
  start: number;
  /** null = never ends. */
  end: number | null;
}

const DAY = 86_400_000;

export function periodOf(period: BudgetPeriod | null, now: number): PeriodWindow {
  if (period === null) return { id: 'all', start: 0, end: null };
  const d = new Date(now);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  let start: number;
  let end: number;
  if (period === 'month') {
    start = Date.UTC(y, m, 1);
    end = Date.UTC(y, m + 1, 1);
  } else {
    const today = Date.UTC(y, m, d.getUTCDate());
    start = period === 'day' ? today : today - ((d.getUTCDay() + 6) % 7) * DAY; // back to Monday
    end = start + (period === 'day' ? DAY : 7 * DAY);
  }
  return { id: new Date(start).toISOString().slice(0, 10), start, end };
}

/** How long a period's counter is kept: to its end plus a day for requests still settling. */
export function periodTtlMs(w: PeriodWindow, now: number): number | null {
  return w.end === null ? null : w.end - now + DAY;
}

/** OpenAI's reset format: `20ms`, `1s`, `1.5s`, `6m0s`, `1h2m3s`. */
export function openAiDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total < 1000) return `${total}ms`;
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const s = (total % 60_000) / 1000;
  const sec = `${Number.isInteger(s) ? s : Number(s.toFixed(3))}s`;
  if (h > 0) return `${h}h${m}m${sec}`;
  if (m > 0) return `${m}m${sec}`;
  return sec;
}
