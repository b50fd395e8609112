/** `heat-gateway bench` (and `npm run bench:strategies`): the strategy comparison. */
import type { Command } from 'commander';
import { LocalRedisServer } from '../redis/local-redis-server.js';
import { writeBenchReport, type SweepPoint } from './bench-report.js';
import { quickStrategyOptions } from './bench-modes.js';
import { BENCH_MODES, runBench, type BenchMode, type BenchOptions } from './strategy-bench.js';

export interface BenchFlags {
  quick?: boolean;
  sweep?: boolean;
  modes: string;
  duration?: number;
  grace?: number;
  deployments: number;
  instancesPerDeployment: number;
  changeRate: number;
  readRate: number;
  rebootWindowMs: number;
  seed: string;
  out: string;
}

/** A progress bar on a terminal, one line per phase otherwise. */
function progressReporter(stream: NodeJS.WriteStream = process.stderr): BenchOptions['onProgress'] {
  let lastLine = '';
  return ({ mode, index, of, phase, fraction }) => {
    const width = 24;
    const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const line = `[${index + 1}/${of}] ${mode.padEnd(28)} ${phase.padEnd(10)} ${bar} ${Math.round(fraction * 100)}%`;
    if (stream.isTTY) stream.write(`\r${line}`);
    else if (`${index}${phase}` !== lastLine) stream.write(`${line}\n`);
    lastLine = `${index}${phase}`;
  };
}

export function benchOptionsFrom(flags: BenchFlags, redisUrl: string): BenchOptions {
  const modes = flags.modes.split(',').map((m) => m.trim()).filter(Boolean);
  for (const m of modes) {
    if (!(BENCH_MODES as readonly string[]).includes(m)) throw new Error(`--modes: '${m}' is unknown; use ${BENCH_MODES.join(', ')}`);
  }
  const durationMs = (flags.duration ?? (flags.quick ? 15 : 120)) * 1_000;
  return {
    modes: modes as BenchMode[],
    deployments: flags.deployments,
    instancesPerDeployment: flags.instancesPerDeployment,
    changeRate: flags.changeRate,
    rebootWindowMs: flags.rebootWindowMs,
    durationMs,
    // Long enough for a steady cached-poll interval (30 s) in a full run.
    graceMs: (flags.grace ?? (flags.quick ? 5 : 35)) * 1_000,
    readRate: flags.readRate,
    onDemandReadFactor: 4,
    dbomaticPeriodMs: 60_000,
    seed: flags.seed,
    // A 15 s window cannot hold a 30 s poll: the smoke run polls 6× faster (and says so in
    // its JSON). The full run uses every strategy's defaults.
    strategyOptions: flags.quick ? quickStrategyOptions() : {},
    redisUrl,
    onProgress: progressReporter(),
  };
}

/** Runs the comparison (and the sweep when asked) and writes the reports; returns the files. */
export async function runBenchCommand(flags: BenchFlags): Promise<string[]> {
  const local = process.env.REDIS_URL ? undefined : await LocalRedisServer.start();
  try {
    const options = benchOptionsFrom(flags, process.env.REDIS_URL ?? local!.url);
    if (!flags.sweep) {
      const report = await runBench(options);
      if (process.stderr.isTTY) process.stderr.write('\n');
      return writeBenchReport(flags.out, flags.quick ? 'strategies-quick' : 'strategies', report);
    }
    // The sweep: every mode at 100, 1,000 and 10,000 instances (on-demand at one read rate).
    const sweep: SweepPoint[] = [];
    const results = [];
    for (const instances of [100, 1_000, 10_000]) {
      const sized = { ...options, deployments: Math.max(1, Math.round(instances / options.instancesPerDeployment)), onDemandReadFactor: 1 };
      for (const r of (await runBench(sized)).results) {
        results.push({ ...r, mode: `${r.mode} @${instances}` });
        sweep.push({ instances, mode: r.mode, backendRequestsPerMinute: r.backend.total.requestsPerSecond * 60, detectionP99Ms: r.detection.p99Ms });
      }
    }
    const { onProgress: _p, redisUrl: _r, ...config } = options;
    if (process.stderr.isTTY) process.stderr.write('\n');
    return writeBenchReport(flags.out, flags.quick ? 'strategies-sweep-quick' : 'strategies-sweep', { config, results }, sweep);
  } finally {
    await local?.stop();
  }
}

const int = (v: string) => Number.parseInt(v, 10);

export function registerBenchCommand(program: Command): Command {
  return program
    .command('bench')
    .description('compare the strategies (and a dbomatic baseline) on one seeded simulator scenario')
    .option('--quick', 'a 15 s smoke run per mode')
    .option('--sweep', 'instead, run every mode at 100, 1,000 and 10,000 instances')
    .option('--modes <list>', 'comma-separated modes', BENCH_MODES.join(','))
    .option('--duration <s>', 'measured seconds per mode (default 120, quick 15)', int)
    .option('--grace <s>', 'seconds after the window for late detections (default 35, quick 5)', int)
    .option('--deployments <n>', 'deployments', int, 200)
    .option('--instances-per-deployment <n>', 'instances per deployment', int, 5)
    .option('--change-rate <r>', 'changes per second', Number.parseFloat, 10)
    .option('--read-rate <r>', 'Conductor reads per second', Number.parseFloat, 5)
    .option('--reboot-window-ms <ms>', 'how long a short reboot lasts', int, 3_000)
    .option('--seed <seed>', 'scenario seed', 'bench')
    .option('--out <dir>', 'where the reports go', 'bench/results')
    .action(async (flags: BenchFlags) => {
      const files = await runBenchCommand(flags);
      process.stdout.write(`${files.map((f) => `wrote ${f}`).join('\n')}\n`);
    });
}
