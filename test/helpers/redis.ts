/**
 * Real Redis for integration tests. `REDIS_URL` wins; otherwise one `redis-server` on a free
 * port is spawned per test process (no persistence) and killed when the process exits.
 * Every test gets its own key prefix and deletes its keys afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export interface RedisServer {
  url: string;
  port: number;
  /** Stops the server (SIGTERM, waits for exit). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Polls `check` until it returns truthy or `timeoutMs` passes. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 5_000, intervalMs = 20, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Spawns a private `redis-server` (for tests that stop and restart Redis). */
export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    async start() {
      const proc = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
        { stdio: 'ignore' },
      );
      child = proc;
      children.add(proc);
      proc.once('exit', () => children.delete(proc));
      const failed = new Promise<never>((_, reject) => {
        proc.once('error', (err) =>
          reject(new Error(`cannot start redis-server (${err.message}); install it (apt-get install -y redis-server) or set REDIS_URL`)),
        );
      });
      const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {}); // refused until the server listens; waitFor retries
      try {
        await Promise.race([failed, waitFor(async () => (await probe.connect().then(() => probe.ping())) === 'PONG', { what: 'redis-server to accept connections' })]);
      } finally {
        probe.disconnect();
      }
    },
    async stop() {
      const proc = child;
      if (!proc || proc.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      });
    },
  };
  await server.start();
  return server;
}

let shared: Promise<string> | undefined;

/** URL of the Redis shared by this test process. */
export function sharedRedisUrl(): Promise<string> {
  shared ??= process.env.REDIS_URL ? Promise.resolve(process.env.REDIS_URL) : startRedisServer().then((s) => s.url);
  return shared;
}

/** A unique hash-tagged key prefix for one test. */
export function testPrefix(): string {
  return `{t${randomBytes(6).toString('hex')}}:`;
}

/** Deletes every key under `prefix`. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1_000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/**
 * Mocha hooks giving each test a connected client and a fresh prefix:
 * `const ctx = useRedis();` then `ctx.redis`, `ctx.prefix`, `ctx.url` inside tests.
 */
export function useRedis(): { redis: Redis; prefix: string; url: string } {
  const ctx = {} as { redis: Redis; prefix: string; url: string };
  before(async () => {
    ctx.url = await sharedRedisUrl();
    ctx.redis = new Redis(ctx.url);
  });
  beforeEach(() => {
    ctx.prefix = testPrefix();
  });
  afterEach(async () => {
    await deletePrefix(ctx.redis, ctx.prefix);
  });
  after(async () => {
    await ctx.redis.quit();
  });
  return ctx;
}
