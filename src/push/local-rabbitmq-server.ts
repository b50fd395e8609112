/**
 * A private `rabbitmq-server` node on loopback, for the demo, benchmarks and tests (Debian
 * package `rabbitmq-server`). Everything it writes lives in one directory; its ports are
 * free ones (AMQP, Erlang distribution and its own `epmd`, so parallel runs never share an
 * epmd). Stopped by PID: the Erlang VM (from its pid file) and the epmd we started.
 * Production deployments point `push.amqp.url` at the cloud's own RabbitMQ instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { freePort } from '../redis/local-redis-server.js';

export interface LocalRabbitOptions {
  /** Keep the node's data here (the demo); unset: a temp directory removed on stop. */
  dataDir?: string;
  /** @defaultValue 60_000 (a cold node takes about 6 s) */
  startTimeoutMs?: number;
}

/** Debian installs the real start script here; /usr/sbin/rabbitmq-server wraps it for the system user. */
const DEBIAN_SCRIPT = '/usr/lib/rabbitmq/bin/rabbitmq-server';

const children = new Set<ChildProcess>();
/** Erlang VMs are grandchildren (the start script forks them): killed by PID at exit too. */
const vmPids = new Set<number>();
process.on('exit', () => {
  for (const pid of vmPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const child of children) child.kill('SIGKILL');
});

export const RABBITMQ_INSTALL_HINT =
  'rabbitmq-server is not installed; install it (Debian/Ubuntu: sudo apt-get install -y rabbitmq-server, macOS: brew install rabbitmq) or point push.amqp.url at a RabbitMQ';

/** True when a rabbitmq-server can be started here. */
export function rabbitmqAvailable(): boolean {
  if (existsSync(DEBIAN_SCRIPT)) return true;
  return (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, 'rabbitmq-server')));
}

export class LocalRabbitMQServer {
  private node: ChildProcess | undefined;
  private epmd: ChildProcess | undefined;
  private output = '';

  private constructor(
    readonly dir: string,
    private readonly ownsDir: boolean,
    readonly port: number,
    private readonly distPort: number,
    private readonly epmdPort: number,
    private readonly nodeName: string,
    private readonly options: LocalRabbitOptions,
  ) {}

  static async start(options: LocalRabbitOptions = {}): Promise<LocalRabbitMQServer> {
    if (!rabbitmqAvailable()) throw new Error(RABBITMQ_INSTALL_HINT);
    const dir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'hgw-rabbit-'));
    mkdirSync(dir, { recursive: true });
    const [port, distPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
    // A stable name per directory: the node's data (durable queues) is kept under its name.
    const nameFile = join(dir, 'nodename');
    const nodeName = existsSync(nameFile) ? readFileSync(nameFile, 'utf8').trim() : `hgw${process.pid}x${Date.now().toString(36)}@localhost`;
    writeFileSync(nameFile, nodeName);
    const server = new LocalRabbitMQServer(dir, options.dataDir === undefined, port, distPort, epmdPort, nodeName, options);
    await server.start();
    return server;
  }

  /** `amqp://guest:guest@127.0.0.1:<port>/` (guest may log in from loopback). */
  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}/`;
  }

  get log(): string {
    return this.output;
  }

  private env(): NodeJS.ProcessEnv {
    const d = this.dir;
    for (const sub of ['mnesia', 'log']) mkdirSync(join(d, sub), { recursive: true });
    writeFileSync(join(d, 'enabled_plugins'), '[].\n');
    return {
      ...process.env,
      HOME: d, // the Erlang cookie goes here
      ERL_EPMD_PORT: String(this.epmdPort),
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_MNESIA_BASE: join(d, 'mnesia'),
      RABBITMQ_LOG_BASE: join(d, 'log'),
      RABBITMQ_LOGS: '-',
      RABBITMQ_PID_FILE: join(d, 'rabbit.pid'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(d, 'enabled_plugins'),
      // Files that do not exist: the system node's configuration must not apply to ours.
      RABBITMQ_CONFIG_FILE: join(d, 'rabbitmq'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(d, 'advanced.config'),
      RABBITMQ_CONF_ENV_FILE: join(d, 'rabbitmq-env.conf'),
    };
  }

  /** Starts (or restarts) the node on its ports and waits until it accepts AMQP connections. */
  async start(): Promise<void> {
    const env = this.env();
    if (!this.epmd || this.epmd.exitCode !== null || this.epmd.signalCode !== null) {
      const epmd = spawn('epmd', ['-port', String(this.epmdPort)], { env, stdio: 'ignore', detached: true });
      epmd.on('error', () => undefined);
      children.add(epmd);
      epmd.once('exit', () => children.delete(epmd));
      this.epmd = epmd;
    }
    const script = existsSync(DEBIAN_SCRIPT) ? DEBIAN_SCRIPT : 'rabbitmq-server';
    // Own process groups (as LocalRedisServer): Ctrl-C stops the parent, which stops these last.
    const node = spawn(script, [], { env, cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.node = node;
    children.add(node);
    const append = (c: Buffer) => (this.output = (this.output + c.toString()).slice(-20_000));
    node.stdout!.on('data', append);
    node.stderr!.on('data', append);
    let exited = false;
    node.once('exit', () => {
      exited = true;
      children.delete(node);
    });
    const startError = new Promise<never>((_, reject) => {
      node.once('error', (err) => reject((err as NodeJS.ErrnoException).code === 'ENOENT' ? new Error(RABBITMQ_INSTALL_HINT) : err));
    });
    startError.catch(() => undefined);
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 60_000);
    for (;;) {
      const connection = await Promise.race([startError, amqp.connect(this.url).catch(() => undefined)]);
      if (connection) {
        await connection.close().catch(() => undefined);
        const pid = this.vmPid();
        if (pid) vmPids.add(pid);
        return;
      }
      if (exited) throw new Error(`rabbitmq-server exited while starting:\n${this.output.slice(-2_000)}`);
      if (Date.now() > deadline) throw new Error(`rabbitmq-server did not accept connections within the start timeout:\n${this.output.slice(-2_000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  private vmPid(): number | null {
    try {
      const pid = Number(readFileSync(join(this.dir, 'rabbit.pid'), 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  }

  /** Stops the node gracefully (SIGTERM to the Erlang VM) and waits for it; keeps epmd and data. */
  async stopNode(): Promise<void> {
    const node = this.node;
    if (!node || node.exitCode !== null || node.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => node.once('exit', () => resolve()));
    const pid = this.vmPid();
    try {
      if (pid) process.kill(pid, 'SIGTERM');
      else node.kill('SIGTERM');
    } catch {
      node.kill('SIGTERM');
    }
    const timer = setTimeout(() => {
      if (pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      node.kill('SIGKILL');
    }, 30_000);
    await exited;
    clearTimeout(timer);
    if (pid) vmPids.delete(pid);
  }

  /** Restarts the node on the same ports with the same data (durable queues survive). */
  async restart(): Promise<void> {
    await this.stopNode();
    await this.start();
  }

  /** Stops the node and its epmd; removes the data directory when it was a temp one. */
  async stop(): Promise<void> {
    await this.stopNode();
    const epmd = this.epmd;
    if (epmd && epmd.exitCode === null && epmd.signalCode === null) {
      await new Promise<void>((resolve) => {
        epmd.once('exit', () => resolve());
        epmd.kill('SIGTERM');
      });
    }
    if (this.ownsDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
