/** Small helpers shared by the benchmarks: a text table and a JSON result with the machine. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { machine } from '../src/bench/bench-report.js';

export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

/** The 1/5/15-minute load averages, as `uptime` prints them: benchmark figures carry the load they ran under. */
export function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
}

/**
 * Writes the result JSON with the machine description, the load average and a timestamp.
 * Published runs (`publish: true`) go to bench/results/<name>.json (tracked); every other
 * run goes to bench/results/scratch/ (git-ignored), so running a benchmark never dirties
 * the checkout. `dir` puts it elsewhere (a test's temporary folder).
 */
export function writeResult(name: string, result: Record<string, unknown>, options: { publish?: boolean; dir?: string } = {}): string {
  const dir = options.dir ?? (options.publish ? 'bench/results' : 'bench/results/scratch');
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/${name}.json`;
  writeFileSync(file, `${JSON.stringify({ ...result, machine: machine(), loadAverage: loadAverage(), at: new Date().toISOString() }, null, 2)}\n`);
  return file;
}
