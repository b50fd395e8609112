/**
 * A gateway in its own process, so the benchmark can read its CPU time and peak RSS from
 * /proc. Runs the built CLI when this module is built, the TypeScript sources through tsx
 * otherwise.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const fromSource = import.meta.url.endsWith('.ts');
/** The repository root (two levels above src/bench or dist/src/bench). */
const root = resolve(here, fromSource ? '../..' : '../../..');

export class GatewayProcess {
  private output = '';

  private constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (c: Buffer) => (this.output = (this.output + c.toString()).slice(-20_000)));
    child.stderr!.on('data', (c: Buffer) => (this.output = (this.output + c.toString()).slice(-20_000)));
  }

  static start(configFile: string, env: NodeJS.ProcessEnv = {}): GatewayProcess {
    const args = [...(process.env.BENCH_GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...(fromSource ? ['--import', 'tsx', join(root, 'src/cli.ts')] : [join(root, 'dist/src/cli.js')])];
    const child = spawn(process.execPath, [...args, 'start', '--config', configFile], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new GatewayProcess(child);
  }

  get log(): string {
    return this.output;
  }

  /** User + system CPU seconds so far (Linux /proc). */
  cpuSeconds(): number {
    try {
      const stat = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime are fields 14 and 15 of stat; 12 and 13 after the command name.
      return (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      return Number.NaN;
    }
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
