/**
 * Real Redis for integration tests. `REDIS_URL` wins; otherwise one `redis-server` on a free
 * port is spawned per test process (no persistence) and killed when the process exits.
 * Every test gets its own key prefix and deletes its keys afterwards.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { LocalRedisServer } from '../../src/redis/local-redis-server.js';

export { freePort } from '../../src/redis/local-redis-server.js';
export { deletePrefix } from '../../src/store/delete-prefix.js';
import { deletePrefix } from '../../src/store/delete-prefix.js';

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

export type RedisServer = LocalRedisServer;

/** Spawns a private `redis-server` (for tests that stop and restart Redis). */
export function startRedisServer(): Promise<LocalRedisServer> {
  return LocalRedisServer.start();
}

let shared: Promise<string> | undefined;

/** URL of the Redis shared by this test process. */
export function sharedRedisUrl(): Promise<string> {
  shared ??= process.env.REDIS_URL ? Promise.resolve(process.env.REDIS_URL) : startRedisServer().then((s) => s.url);
  return shared;
}

let topology: Promise<Record<string, unknown>> | undefined;

/**
 * The `redis` config keys of the deployment this test process runs against: `{}` (the shared
 * single node) or, with `HGW_TEST_REDIS=sentinel|cluster` (`npm run test:ha`), a real
 * Sentinel group or Redis Cluster started once for the process.
 */
export function sharedRedisTopology(): Promise<Record<string, unknown>> {
  topology ??= (async () => {
    const kind = process.env.HGW_TEST_REDIS ?? 'single';
    const { RedisCluster, SentinelGroup } = await import('./redis-ha.js');
    if (kind === 'cluster') return { cluster: (await RedisCluster.start()).urls };
    if (kind === 'sentinel') {
      const group = await SentinelGroup.start();
      return { sentinels: group.sentinelUrls, sentinelName: group.name };
    }
    if (kind !== 'single') throw new Error(`HGW_TEST_REDIS=${kind}: use single, sentinel or cluster`);
    return {};
  })();
  return topology;
}

/** A unique hash-tagged key prefix for one test. */
export function testPrefix(): string {
  return `{t${randomBytes(6).toString('hex')}}:`;
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

const clients = new Map<string, Redis>();

/**
 * A test's own connection to `url` (one per URL and test process), for looking at keys the
 * gateway wrote or playing another replica. The gateway itself reaches Redis only through
 * its store layer.
 */
export function testRedis(url: string): Redis {
  let client = clients.get(url);
  if (!client || client.status === 'end') clients.set(url, (client = new Redis(url)));
  return client;
}
