/** Small helpers shared by the benchmarks: a text table and a JSON result with the machine. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { Redis } from 'ioredis';
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

/** Redis's CPU seconds so far (INFO cpu: user + sys, all its threads). */
export async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return field('used_cpu_user') + field('used_cpu_sys');
}

/** Calls and µs of one Redis command (INFO commandstats). */
export type CommandStat = { calls: number; usec: number };

/**
 * What Redis's commands did over the windows between `start()` and `stop()` calls (INFO
 * commandstats deltas, summed), reported per unit of work: how many of each command a unit
 * takes, and the µs Redis spent in each (a script's EVALSHA includes the commands it runs,
 * which also show on their own lines).
 */
export class CommandCounter {
  private readonly sums = new Map<string, CommandStat>();
  private before = new Map<string, CommandStat>();

  constructor(private readonly redis: Redis) {}

  private async read(): Promise<Map<string, CommandStat>> {
    const stats = new Map<string, CommandStat>();
    for (const m of (await this.redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      stats.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
    }
    return stats;
  }

  async start(): Promise<void> {
    this.before = await this.read();
  }

  async stop(): Promise<void> {
    for (const [name, after] of await this.read()) {
      const before = this.before.get(name) ?? { calls: 0, usec: 0 };
      const sum = this.sums.get(name) ?? { calls: 0, usec: 0 };
      this.sums.set(name, { calls: sum.calls + after.calls - before.calls, usec: sum.usec + after.usec - before.usec });
    }
  }

  /** Calls (or µs) per unit of each command at or above `min` per unit, largest first. */
  perUnit(units: number, pick: 'calls' | 'usec', digits: number, min = 0.001): Record<string, number> {
    return Object.fromEntries(
      [...this.sums]
        .map(([name, stat]) => [name, stat[pick] / units] as const)
        .filter(([, n]) => n >= min)
        .sort((a, b) => b[1] - a[1])
        .map(([name, n]) => [name, Number(n.toFixed(digits))]),
    );
  }
}

/**
 * What a first touch of fresh memory costs on this machine, in µs per 4 KiB page (the
 * minor page fault and the zeroing): 64 MiB mapped and touched once, the median of 3. A
 * process that grows (a heap promoting into new pages, a stream allocating new nodes) pays
 * this per page; it is ~0.1–0.3 µs on bare metal, and can be many times that in a VM.
 */
export function pageFaultMicros(): number {
  const pages = (64 * 1024 * 1024) / 4096;
  const runs = [0, 1, 2].map(() => {
    const started = performance.now();
    const memory = Buffer.allocUnsafeSlow(pages * 4096); // above malloc's mmap threshold: fresh pages
    for (let at = 0; at < memory.length; at += 4096) memory[at] = 1;
    return ((performance.now() - started) * 1_000) / pages;
  });
  return Number(runs.sort((a, b) => a - b)[1]!.toFixed(2));
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
