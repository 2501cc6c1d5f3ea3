/** Percentiles and formatting shared by the benchmarks. */
export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function summarize(samplesNs: Float64Array): { p50: number; p99: number; mean: number; n: number } {
  const s = Float64Array.from(samplesNs).sort();
  let sum = 0;
  for (const v of s) sum += v;
  return { p50: percentile(s, 50), p99: percentile(s, 99), mean: sum / s.length, n: s.length };
}

export const us = (ns: number): string => (ns / 1000).toFixed(2);

export function table(headers: string[], rows: (string | number)[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: (string | number)[]) => `| ${cells.map((c, i) => String(c).padEnd(widths[i]!)).join(' | ')} |`;
  return [line(headers), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}
