/**
 * Validation of limit fields (`rpm_limit`, `tpm_limit`, `concurrency_limit`, `budget_usd`,
 * `budget_period`), shared by the key API, the key CLI and `orgs update`. null clears a limit.
 */
import { z } from 'zod';
import { invalidRequest } from '../errors.js';
import { BUDGET_PERIODS } from './periods.js';
import type { Limits } from './types.js';

const count = (max: number) => z.number().int().min(1, 'must be at least 1').max(max).nullable().optional();

export const limitFields = {
  rpm_limit: count(1_000_000_000),
  tpm_limit: count(1_000_000_000_000),
  concurrency_limit: count(1_000_000),
  budget_usd: z.number().min(0, 'must not be negative').max(1_000_000_000).nullable().optional(),
  budget_period: z.enum(BUDGET_PERIODS as [string, ...string[]]).nullable().optional(),
};

export type LimitFields = { [K in keyof typeof limitFields]?: z.infer<(typeof limitFields)[K]> };

/** The limit fields alone (the CLI's `orgs update`). */
export const limitsSchema = z.object(limitFields).strict();

/** The limits given in a body (absent fields stay undefined, so an update changes only those). */
export function toLimits(b: LimitFields): Partial<Limits> {
  const out: Partial<Limits> = {};
  if (b.rpm_limit !== undefined) out.rpm = b.rpm_limit;
  if (b.tpm_limit !== undefined) out.tpm = b.tpm_limit;
  if (b.concurrency_limit !== undefined) out.concurrency = b.concurrency_limit;
  if (b.budget_usd !== undefined) out.budgetUsd = b.budget_usd;
  if (b.budget_period !== undefined) out.budgetPeriod = b.budget_period as Limits['budgetPeriod'];
  return out;
}

/** A budget period means nothing without a budget. */
export function checkBudget(l: Pick<Limits, 'budgetUsd' | 'budgetPeriod'>): void {
  if (l.budgetPeriod !== null && l.budgetUsd === null) throw invalidRequest('budget_period needs budget_usd', 'budget_period');
}

/**
 * A CLI flag value: a number, or `none` to clear. Returns undefined when the flag was not given.
 * Throws invalid_request (as the API would) for anything else.
 */
export function cliLimit(v: string | undefined, param: string, integer = true): number | null | undefined {
  if (v === undefined) return undefined;
  if (v === 'none' || v === 'null') return null;
  const n = Number(v.replace(/^\$/, ''));
  if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw invalidRequest(`Invalid ${param}: expected ${integer ? 'a whole number' : 'a number'} or 'none'`, param);
  }
  return n;
}
