/**
 * The one place ioredis connections are made. Everything that talks to Redis (the store,
 * the feed, BullMQ queues and workers, pub/sub) gets its connection here, so shutdown can
 * close every one of them and tests can count them.
 */
import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from '../log/logger.js';
import { describeTopology, openRedis, topologyOf, type RedisTopology, type RedisTopologyConfig } from './redis-topology.js';

export interface RedisFactoryOptions extends RedisTopologyConfig {
  connectTimeoutMs: number;
  /**
   * Longest a command on a non-blocking connection waits for its reply (redis.pingTimeoutMs):
   * a Redis that accepts connections but does not answer fails requests instead of hanging them.
   */
  commandTimeoutMs: number;
  logger: Logger;
}

export interface ConnectionOptions {
  /**
   * BullMQ workers block on Redis and must not fail commands after N retries
   * (BullMQ requires `maxRetriesPerRequest: null` for them).
   * @defaultValue false
   */
  blocking?: boolean;
  /**
   * ioredis auto-pipelining: commands issued in the same event-loop tick go out in one
   * write. For connections serving many small concurrent reads. @defaultValue false
   */
  autoPipelining?: boolean;
  /**
   * With `autoPipelining`: commands (or script names) written the moment they are called, not
   * held for the next auto-pipeline, which ioredis sends only once the one before it has been
   * answered. For calls that are batches already. @defaultValue []
   */
  writeAtOnce?: readonly string[];
  /**
   * Speak RESP2 rather than ioredis' default RESP3: a connection receiving Redis' client-side
   * caching invalidations as pub/sub messages on `__redis__:invalidate` (RESP3 would get them
   * as `invalidate` pushes, which ioredis does not surface). @defaultValue false
   */
  resp2?: boolean;
}

export class RedisFactory {
  private readonly connections = new Set<Redis>();
  private closed = false;

  readonly topology: RedisTopology;

  constructor(private readonly options: RedisFactoryOptions) {
    this.topology = topologyOf(options);
    if (this.topology.kind !== 'single') {
      options.logger.warn(`redis: using ${describeTopology(this.topology)}; redis.url and REDIS_URL are ignored`);
    }
  }

  /** A new connection named for logs (`CLIENT LIST` shows the name too). */
  create(name: string, opts: ConnectionOptions = {}): Redis {
    if (this.closed) throw new Error(`RedisFactory is closed; cannot open '${name}'`);
    const blocking = opts.blocking ?? false;
    const base: RedisOptions = {
      connectionName: `hgw:${name}`,
      connectTimeout: this.options.connectTimeoutMs,
      // Non-blocking connections fail fast: while Redis is away a command is refused at once
      // (no offline queue, no retry, a reply deadline), so a request answers 503 within
      // about redis.pingTimeoutMs instead of waiting on the reconnect backoff. They connect
      // at once because a lazy connection without an offline queue refuses its first command.
      // Blocking connections (BullMQ workers, XREADGROUP) wait for Redis instead, as BullMQ
      // requires (`maxRetriesPerRequest: null`); shutdown disconnects them.
      lazyConnect: blocking,
      maxRetriesPerRequest: blocking ? null : 0,
      enableOfflineQueue: blocking,
      ...(blocking ? {} : { commandTimeout: this.options.commandTimeoutMs }),
      enableAutoPipelining: opts.autoPipelining ?? false,
      ...(opts.writeAtOnce?.length ? { autoPipeliningIgnoredCommands: [...opts.writeAtOnce] } : {}),
      ...(opts.resp2 ? { protocol: 2 as const } : {}),
      // Reconnect quickly: polls and deliveries resume within half a second of Redis returning.
      retryStrategy: (times) => Math.min(50 * times, 500),
    };
    const redis = openRedis(this.topology, base);
    const log = this.options.logger.child({ redis: name });
    let lastError = '';
    redis.on('error', (err: Error) => {
      // ioredis emits the same error on every reconnect attempt; log each distinct one once.
      if (err.message !== lastError) log.warn('redis connection error', { error: err.message });
      lastError = err.message;
    });
    redis.on('ready', () => {
      if (lastError) log.info('redis connection restored');
      lastError = '';
    });
    this.connections.add(redis);
    this.reviveUnlessClosedOnPurpose(redis, log);
    return redis;
  }

  /**
   * ioredis ends a connection for good when a reconnect attempt is cut short — during a
   * Sentinel failover its failover detector disconnects the connector while the attempt is
   * still asking the sentinels, and the attempt fails with "Connection is closed."
   * (redis/ioredis#1683). Every later command then fails at once, forever. A connection that
   * ends without anyone closing it is connected again here; closes made through `quit()` or
   * `disconnect()` (ours, BullMQ's) are respected.
   */
  private reviveUnlessClosedOnPurpose(redis: Redis, log: Logger): void {
    let onPurpose = false;
    const quit = redis.quit.bind(redis);
    const disconnect = redis.disconnect.bind(redis);
    redis.quit = ((...args: Parameters<Redis['quit']>) => {
      onPurpose = true;
      return quit(...args);
    }) as Redis['quit'];
    redis.disconnect = (reconnect = false) => {
      if (!reconnect) onPurpose = true;
      disconnect(reconnect);
    };
    const revive = () => {
      if (onPurpose || this.closed) {
        this.connections.delete(redis);
        return;
      }
      log.warn('redis connection ended without being closed; connecting again');
      setTimeout(() => {
        if (!onPurpose && !this.closed && redis.status === 'end') redis.connect().catch(() => undefined);
      }, 100);
      redis.once('end', revive);
    };
    redis.once('end', revive);
  }

  /** Connections currently open (for status and tests). */
  get size(): number {
    return this.connections.size;
  }

  /**
   * Closes every connection: QUIT when possible, disconnect otherwise, and disconnect
   * whatever has not closed within `timeoutMs` (a Redis that stopped answering).
   */
  async closeAll(timeoutMs = 1_000): Promise<void> {
    this.closed = true;
    const all = [...this.connections];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(
        all.map(async (redis) => {
          try {
            if (redis.status === 'ready') await redis.quit();
            else redis.disconnect();
          } catch {
            redis.disconnect();
          }
        }),
      ),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    for (const redis of all) if (redis.status !== 'end') redis.disconnect();
    this.connections.clear();
  }

  /** Disconnects every connection at once (shutdown past its grace period). */
  disconnectAll(): void {
    for (const redis of this.connections) redis.disconnect();
  }
}
