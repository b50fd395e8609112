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

/** One command as Redis's MONITOR reports it. */
export interface MonitoredCommand {
  args: string[];
  /** `127.0.0.1:PORT` of the client, or `lua` for a command a script ran. */
  source: string;
}

/**
 * Watches every command Redis runs (MONITOR) over a plain socket. ioredis's own `monitor()`
 * can mistake the first monitored line for a reply when it arrives in the same packet as
 * MONITOR's `+OK` ("Command queue state error"), so tests read the stream themselves.
 */
export async function monitorRedis(url: string, onCommand: (command: MonitoredCommand) => void): Promise<{ stop(): void }> {
  const { hostname, port } = new URL(url);
  const { connect } = await import('node:net');
  const socket = connect(Number(port || 6379), hostname || '127.0.0.1');
  let buffered = '';
  let started!: () => void;
  let failed!: (err: Error) => void;
  const ready = new Promise<void>((resolve, reject) => ((started = resolve), (failed = reject)));
  socket.setEncoding('latin1');
  socket.on('error', (err) => failed(err));
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    let end: number;
    while ((end = buffered.indexOf('\r\n')) >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      if (line === '+OK') started();
      else if (line.startsWith('-')) failed(new Error(`MONITOR refused: ${line.slice(1)}`));
      else {
        const parsed = parseMonitorLine(line);
        if (parsed) onCommand(parsed);
      }
    }
  });
  socket.write('MONITOR\r\n');
  await ready;
  return { stop: () => socket.destroy() };
}

/** `+1700000000.123456 [0 127.0.0.1:5000] "evalsha" "abc" "1"` → args and source. */
function parseMonitorLine(line: string): MonitoredCommand | undefined {
  const head = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] /.exec(line);
  if (!head) return undefined;
  const args: string[] = [];
  const unescape: Record<string, string> = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b', '"': '"', '\\': '\\' };
  for (const [, quoted] of line.slice(head[0].length).matchAll(/"((?:[^"\\]|\\.)*)"/g)) {
    args.push(quoted!.replace(/\\(x[0-9a-f]{2}|.)/g, (_, e: string) => (e.length === 3 ? String.fromCharCode(parseInt(e.slice(1), 16)) : (unescape[e] ?? e))));
  }
  return { args, source: head[1]! };
}
