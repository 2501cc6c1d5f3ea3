/** The limits a key or an organisation may carry; null = none of its own. */
import type { BudgetPeriod } from './periods.js';

export interface Limits {
  /** Requests per minute. */
  rpm: number | null;
  /** Tokens (prompt + completion) per minute. */
  tpm: number | null;
  /** Requests in flight at once. */
  concurrency: number | null;
  /** USD per `budgetPeriod` (null period = over the whole lifetime). */
  budgetUsd: number | null;
  budgetPeriod: BudgetPeriod | null;
}

export const NO_LIMITS: Readonly<Limits> = Object.freeze({ rpm: null, tpm: null, concurrency: null, budgetUsd: null, budgetPeriod: null });

/** The stored columns (`rpm_limit`, ...) of a key or organisation row -> Limits. */
export function limitsFromRow(r: { rpm_limit?: number | null; tpm_limit?: number | null; concurrency_limit?: number | null; budget_usd?: number | null; budget_period?: string | null }): Limits {
  const period = r.budget_period;
  return {
    rpm: r.rpm_limit ?? null, tpm: r.tpm_limit ?? null, concurrency: r.concurrency_limit ?? null,
    budgetUsd: r.budget_usd ?? null,
    budgetPeriod: period === 'day' || period === 'week' || period === 'month' ? period : null,
  };
}

/** Limits (possibly partial, for an update) -> the columns to write. */
export function limitsToRow(l: Partial<Limits>) {
  const row: { rpm_limit?: number | null; tpm_limit?: number | null; concurrency_limit?: number | null; budget_usd?: number | null; budget_period?: string | null } = {};
  if (l.rpm !== undefined) row.rpm_limit = l.rpm;
  if (l.tpm !== undefined) row.tpm_limit = l.tpm;
  if (l.concurrency !== undefined) row.concurrency_limit = l.concurrency;
  if (l.budgetUsd !== undefined) row.budget_usd = l.budgetUsd;
  if (l.budgetPeriod !== undefined) row.budget_period = l.budgetPeriod;
  return row;
}

/** The public JSON of limits, as the key API and the CLI show them. */
export function limitsJson(l: Limits) {
  return { rpm_limit: l.rpm, tpm_limit: l.tpm, concurrency_limit: l.concurrency, budget_usd: l.budgetUsd, budget_period: l.budgetPeriod };
}
