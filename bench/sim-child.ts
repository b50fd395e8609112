/**
 * `heat-gateway sim` as a child process, and the Heat backend a gateway config points at it,
 * for the benchmarks that run the real gateway against the simulator (bench/scale.ts,
 * bench/observe.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** Starts the simulator; resolves once it printed its URLs and credentials (`out`). */
export async function startSim(deployments: number, perStack: number, extra: string[] = []): Promise<{ child: ChildProcess; out: string }> {
  const child = spawn(
    process.execPath,
    [
      ...['--import', 'tsx', 'src/cli.ts', 'sim', '--port', '0', '--seed', '15', '--deployments', String(deployments)],
      ...['--instances-per-deployment', String(perStack), '--change-rate', '0', ...extra],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (/^world: /m.test(out)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`simulator exited (${code}): ${out}`)));
  });
  return { child, out };
}

/** Stops a simulator child (SIGTERM) and waits for it to exit. */
export async function stopSim(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** One value of the simulator's start-up output. */
export function simField(text: string, re: RegExp): string {
  const m = re.exec(text);
  if (!m?.[1]) throw new Error(`simulator output lacks ${re}: ${text}`);
  return m[1];
}

/** A `kind: heat` backend reading the simulator's Keystone and Heat, as a user would configure it. */
export function simHeatBackend(sim: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'heat-1',
    kind: 'heat',
    timeoutMs: 60_000,
    retries: 2,
    concurrency: 8,
    keystone: {
      url: simField(sim, /keystone \(v3\)\s+(http:\S+)/),
      username: simField(sim, /keystone\s+user=(\S+)/),
      password: simField(sim, /keystone\s+user=\S+ password=(\S+)/),
      userDomain: simField(sim, /domain=(\S+)/),
      projectName: simField(sim, /project=(\S+)/),
      projectDomain: 'Default',
      interface: 'public',
    },
    ...extra,
  };
}
