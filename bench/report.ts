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

/** Writes bench/results/<name>.json with the machine description and a timestamp. */
export function writeResult(name: string, result: Record<string, unknown>): string {
  mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/${name}.json`;
  writeFileSync(file, `${JSON.stringify({ ...result, machine: machine(), at: new Date().toISOString() }, null, 2)}\n`);
  return file;
}
