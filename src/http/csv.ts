/**
 * CSV (RFC 4180) for exports: CRLF line ends, fields quoted when they hold a comma, quote, CR or
 * LF, quotes doubled. Text that a spreadsheet would run as a formula (a model name chosen by a
 * client, say `=HYPERLINK(...)`) is prefixed with `'`, as OWASP advises for CSV injection.
 */
export type CsvValue = string | number | null;

const FORMULA = /^[=+\-@\t\r]/;

export function csvField(v: CsvValue): string {
  if (v === null) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  const text = FORMULA.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(header: readonly string[], rows: readonly (readonly CsvValue[])[]): string {
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}
