/**
 * A `redis-server` child process on loopback, for the demo, benchmarks and tests. Production
 * deployments point `redis.url` at their own Redis instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export interface LocalRedisOptions {
  /** 0 or unset picks a free port. */
  port?: number;
  /** Persist under this directory (AOF); unset keeps data in memory only. */
  dataDir?: string;
  /** How long to wait for the server to accept connections. @defaultValue 10000 */
  startTimeoutMs?: number;
  /** A command to run redis-server under, e.g. valgrind and its flags (bench/callgrind.ts). */
  command?: string[];
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

export class LocalRedisServer {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly options: LocalRedisOptions,
  ) {}

  static async start(options: LocalRedisOptions = {}): Promise<LocalRedisServer> {
    const server = new LocalRedisServer(options.port || (await freePort()), options);
    await server.start();
    return server;
  }

  /** The running server's pid (with `command`, that command's: valgrind runs the server in its own process). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (or restarts) the server on its port and waits until it answers PING. */
  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--loglevel', 'warning'];
    if (this.options.dataDir) args.push('--dir', this.options.dataDir, '--appendonly', 'yes');
    else args.push('--appendonly', 'no');
    // Its own process group: a terminal's Ctrl-C reaches only the parent, which stops the
    // gateway before this Redis (not both at once, the gateway then fighting a dead Redis).
    const [file, ...prefix] = [...(this.options.command ?? []), 'redis-server'];
    const proc = spawn(file!, [...prefix, ...args], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    this.child = proc;
    children.add(proc);
    let stderr = '';
    proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.once('exit', () => children.delete(proc));
    const failed = new Promise<never>((_, reject) => {
      proc.once('error', (err) =>
        reject(
          new Error(
            (err as NodeJS.ErrnoException).code !== 'ENOENT'
              ? `cannot start redis-server: ${err.message}`
              : file === 'redis-server'
                ? 'redis-server is not installed; install it (Debian/Ubuntu: sudo apt-get install -y redis-server, macOS: brew install redis) or set REDIS_URL'
                : `${file} is not installed (Debian/Ubuntu: sudo apt-get install -y ${file})`,
          ),
        ),
      );
      proc.once('exit', (code) => reject(new Error(`redis-server exited with code ${code}: ${stderr.trim()}`)));
    });
    failed.catch(() => {}); // observed through the race below; later exits are normal stops
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 10_000);
    const probe = new Redis(this.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {}); // refused until the server listens
    try {
      for (;;) {
        const ok = await Promise.race([
          failed,
          probe.connect().then(
            () => probe.ping().then((r) => r === 'PONG'),
            () => false,
          ),
        ]);
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not answer within the start timeout`);
        await new Promise((r) => setTimeout(r, 25));
      }
    } finally {
      probe.disconnect();
    }
  }

  /** Stops the server (SIGTERM) and waits for it to exit. */
  async stop(): Promise<void> {
    const proc = this.child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
  }
}
