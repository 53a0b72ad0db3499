/** The printed table: metric, value, target, baseline and the comparison, in aligned plain-text columns. */
export interface Row {
  metric: string;
  value: string;
  target: string;
  baseline: string;
  vs: string;
}

export function printTable(title: string, rows: readonly Row[]): void {
  const header: Row = { metric: 'metric', value: 'value', target: 'target', baseline: 'baseline (same run)', vs: 'vs baseline' };
  const all = [header, ...rows];
  const keys = ['metric', 'value', 'target', 'baseline', 'vs'] as const;
  const widths = keys.map((k) => Math.max(...all.map((r) => r[k].length)));
  const line = (r: Row) => keys.map((k, i) => r[k].padEnd(widths[i]!)).join(' | ');
  console.log(`\n== ${title} ==`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('-+-'));
  for (const r of rows) console.log(line(r));
}

export function ratio(value: number, baseline: number): string {
  return Number.isFinite(value / baseline) ? `×${(value / baseline).toFixed(2)}` : '–';
}

export function diff(value: number, baseline: number, unit = 'ms'): string {
  const d = value - baseline;
  return `${d >= 0 ? '+' : ''}${d.toFixed(Math.abs(d) < 10 ? 3 : 1)} ${unit}`;
}
