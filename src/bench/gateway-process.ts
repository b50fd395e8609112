/**
 * A gateway in its own process, so the benchmark can read its CPU time and peak RSS from
 * /proc. Benchmarks run the built CLI (`dist/src/cli.js`, what the `heat-gateway` bin is):
 * under tsx the process also holds the transpiled sources and their source maps, about 60 MB
 * of heap a user's gateway does not have, which skews memory and GC figures. Tests, which
 * run without a build, may run the sources through tsx.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const fromSource = import.meta.url.endsWith('.ts');
/** The repository root (two levels above src/bench or dist/src/bench). */
const root = resolve(here, fromSource ? '../..' : '../../..');

/**
 * `built`: dist/src/cli.js, refused when older than the sources; `source`: src/cli.ts through
 * tsx, chosen with `BENCH_GATEWAY_RUNTIME=source` (the benchmark smoke test, which runs unbuilt).
 */
export type GatewayRuntime = 'built' | 'source';

const defaultRuntime = (): GatewayRuntime => (process.env.BENCH_GATEWAY_RUNTIME === 'source' ? 'source' : 'built');

/** Newest modification time of the TypeScript the build compiles. */
function newestSource(dir: string): { path: string; mtimeMs: number } {
  let newest = { path: dir, mtimeMs: 0 };
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const found = entry.isDirectory() ? newestSource(path) : entry.name.endsWith('.ts') ? { path, mtimeMs: statSync(path).mtimeMs } : newest;
    if (found.mtimeMs > newest.mtimeMs) newest = found;
  }
  return newest;
}

function builtCli(): string {
  const cli = join(root, 'dist/src/cli.js');
  let builtAt: number;
  try {
    builtAt = statSync(cli).mtimeMs;
  } catch {
    throw new Error(`${cli} does not exist: run \`npm run build\` first (the npm run bench:* scripts do)`);
  }
  if (fromSource) {
    for (const dir of ['src', 'strategies']) {
      const newest = newestSource(join(root, dir));
      if (newest.mtimeMs > builtAt) throw new Error(`dist/ is older than ${newest.path}: run \`npm run build\` first (the npm run bench:* scripts do)`);
    }
  }
  return cli;
}

/**
 * The node flags on the `heat-gateway` launcher line (src/cli.ts's `#!/usr/bin/env -S node
 * <flags>`, which the build keeps in dist/src/cli.js). A gateway started as `node <cli>` gets
 * them only when they are passed, so a benchmark passes them to run what a user's
 * `heat-gateway start` runs.
 */
export function launcherNodeFlags(cli = join(root, 'src/cli.ts')): string[] {
  const line = readFileSync(cli, 'utf8').split('\n', 1)[0]!;
  const match = /^#!\/usr\/bin\/env -S node((?: --[^ ]+)*)$/.exec(line);
  if (!match) throw new Error(`${cli}'s first line is not \`#!/usr/bin/env -S node [--flag…]\`: ${line}`);
  return match[1]!.split(' ').filter(Boolean);
}

/**
 * CPU seconds (user + system) and minor page faults so far of a process on this machine
 * (Linux /proc); NaN when it cannot be read (another host, or gone).
 */
export function processCounters(pid: number | undefined): { cpuSeconds: number; minorFaults: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, from field 3 (state): minflt is field 10, utime and stime 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { cpuSeconds: (Number(fields[11]) + Number(fields[12])) / 100, minorFaults: Number(fields[7]) };
  } catch {
    return { cpuSeconds: Number.NaN, minorFaults: Number.NaN };
  }
}

export class GatewayProcess {
  private output = '';

  /**
   * @param nodeFlags node's flags before the CLI: the launcher's, then `BENCH_GATEWAY_NODE_ARGS`
   *   (a benchmark records them with its results).
   */
  private constructor(
    readonly child: ChildProcess,
    readonly nodeFlags: readonly string[],
  ) {
    // BENCH_GATEWAY_OUTPUT=<file>: the whole output kept too (e.g. with --trace-gc in BENCH_GATEWAY_NODE_ARGS).
    const keep = process.env.BENCH_GATEWAY_OUTPUT ? createWriteStream(process.env.BENCH_GATEWAY_OUTPUT, { flags: 'a' }) : undefined;
    const take = (c: Buffer) => {
      this.output = (this.output + c.toString()).slice(-20_000);
      keep?.write(c);
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    child.once('exit', () => keep?.end());
  }

  static start(configFile: string, env: NodeJS.ProcessEnv = {}, runtime: GatewayRuntime = defaultRuntime()): GatewayProcess {
    const file = runtime === 'built' ? builtCli() : join(root, 'src/cli.ts');
    const cli = runtime === 'built' ? [file] : ['--import', 'tsx', file];
    // Node's flags as the `heat-gateway` launcher gives them, then any the benchmark adds.
    const nodeFlags = [...launcherNodeFlags(file), ...(process.env.BENCH_GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? [])];
    const child = spawn(process.execPath, [...nodeFlags, ...cli, 'start', '--config', configFile], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new GatewayProcess(child, nodeFlags);
  }

  get log(): string {
    return this.output;
  }

  /** User + system CPU seconds so far (Linux /proc). */
  cpuSeconds(): number {
    return processCounters(this.child.pid).cpuSeconds;
  }

  /** Minor page faults so far (Linux /proc): first touches of memory the process had not used. */
  minorFaults(): number {
    return processCounters(this.child.pid).minorFaults;
  }

  /** Peak resident set size in MiB (VmHWM). */
  peakRssMiB(): number {
    try {
      const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
      const kb = /VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1];
      return kb ? Number(kb) / 1024 : Number.NaN;
    } catch {
      return Number.NaN;
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await new Promise<void>((resolveStop) => {
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolveStop();
      });
      this.child.kill('SIGTERM');
    });
  }
}
