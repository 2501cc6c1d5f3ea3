/**
 * Plans: what an organisation's plan allows. Operators define them in the config file (`plans:`);
 * an entry with the name of a built-in plan replaces it. Built in, modelled on the product:
 * `free`, `starter` and `scale` with monthly platform-token quotas (BYOK from Scale up),
 * `enterprise` and `unlimited` without quota. `rpm`, `tpm` and `concurrency` are the defaults for
 * each key of an organisation on the plan (a key's own limit wins).
 */
import { z } from 'zod';

export interface Plan {
  name: string;
  /** Platform-model tokens (prompt + completion) per calendar month (UTC); null = unlimited. BYOK never counts. */
  monthlyPlatformTokens: number | null;
  /** May the organisation call `provider/model` with its own provider accounts? */
  byok: boolean;
  rpm: number | null;
  tpm: number | null;
  concurrency: number | null;
}

export const FALLBACK_PLAN = 'free';

export const DEFAULT_PLANS: readonly Plan[] = [
  { name: 'free', monthlyPlatformTokens: 100_000, byok: false, rpm: 60, tpm: 40_000, concurrency: 5 },
  { name: 'starter', monthlyPlatformTokens: 5_000_000, byok: false, rpm: 500, tpm: 400_000, concurrency: 20 },
  { name: 'scale', monthlyPlatformTokens: 50_000_000, byok: true, rpm: 5_000, tpm: 4_000_000, concurrency: 100 },
  { name: 'enterprise', monthlyPlatformTokens: null, byok: true, rpm: null, tpm: null, concurrency: null },
  { name: 'unlimited', monthlyPlatformTokens: null, byok: true, rpm: null, tpm: null, concurrency: null },
];

const limit = z.number().int().positive().max(1e12).nullable().optional();

/** One entry of the YAML `plans:` list. */
export const planEntrySchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be lowercase letters, digits, - or _'),
  monthly_platform_tokens: z.number().int().min(0).max(1e15).nullable(),
  byok: z.boolean().optional(),
  rpm: limit,
  tpm: limit,
  concurrency: limit,
}).strict();

/** Validate the YAML `plans:` list into the plans in force (built-ins with the file's on top). */
export function parsePlans(raw: unknown, problems: string[]): Plan[] {
  const byName = new Map(DEFAULT_PLANS.map((p) => [p.name, p]));
  if (raw === undefined || raw === null) return [...byName.values()];
  if (!Array.isArray(raw)) {
    problems.push('plans: must be a list of plans');
    return [...byName.values()];
  }
  const seen = new Set<string>();
  raw.forEach((entry, i) => {
    const name = (entry as { name?: unknown } | null)?.name;
    if (typeof name === 'string') {
      if (seen.has(name)) problems.push(`plans: '${name}' is declared twice`);
      seen.add(name);
    }
    const r = planEntrySchema.safeParse(entry);
    if (!r.success) {
      for (const issue of r.error.issues) problems.push(`plans[${i}]${issue.path.length ? `.${issue.path.join('.')}` : ''}: ${issue.message}`);
      return;
    }
    const p = r.data;
    byName.set(p.name, {
      name: p.name, monthlyPlatformTokens: p.monthly_platform_tokens, byok: p.byok ?? false,
      rpm: p.rpm ?? null, tpm: p.tpm ?? null, concurrency: p.concurrency ?? null,
    });
  });
  return [...byName.values()];
}

/** The plans in force, by name. An unknown name is a configuration problem: logged loudly once and
 *  treated as `free`, so a typo never grants more than the smallest plan. */
export class PlanBook {
  private readonly plans: ReadonlyMap<string, Plan>;
  private readonly warned = new Set<string>();

  constructor(plans: readonly Plan[], private readonly log: { error(o: object, m: string): void }) {
    this.plans = new Map(plans.map((p) => [p.name, p]));
  }

  has(name: string): boolean {
    return this.plans.has(name);
  }

  names(): string[] {
    return [...this.plans.keys()];
  }

  get(name: string): Plan {
    const plan = this.plans.get(name);
    if (plan) return plan;
    if (!this.warned.has(name)) {
      this.warned.add(name);
      this.log.error({ plan: name.slice(0, 64), known: this.names() }, `CONFIGURATION PROBLEM: organisation plan '${name.slice(0, 64)}' is not defined; treating it as '${FALLBACK_PLAN}'`);
    }
    return this.plans.get(FALLBACK_PLAN) ?? DEFAULT_PLANS[0]!;
  }
}
