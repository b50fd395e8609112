/** Small helpers shared by the benchmarks: a text table and a JSON result with the machine. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { machine } from '../src/bench/bench-report.js';

export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

/**
 * Writes <name>.json with the machine description and a timestamp: to bench/results/ for a
 * published run (`publish`), else to bench/results/scratch/ (git-ignored), so a benchmark
 * run never dirties the checkout.
 */
export function writeResult(name: string, result: Record<string, unknown>, options: { publish?: boolean } = {}): string {
  const dir = options.publish ? 'bench/results' : 'bench/results/scratch';
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/${name}.json`;
  writeFileSync(file, `${JSON.stringify({ ...result, machine: machine(), at: new Date().toISOString() }, null, 2)}\n`);
  return file;
}
