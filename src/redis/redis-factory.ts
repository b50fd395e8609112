/**
 * The one place ioredis connections are made. Everything that talks to Redis (the store,
 * the feed, BullMQ queues and workers, pub/sub) gets its connection here, so shutdown can
 * close every one of them and tests can count them.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../log/logger.js';

export interface RedisFactoryOptions {
  url: string;
  connectTimeoutMs: number;
  logger: Logger;
}

export interface ConnectionOptions {
  /**
   * BullMQ workers block on Redis and must not fail commands after N retries
   * (BullMQ requires `maxRetriesPerRequest: null` for them).
   * @defaultValue false
   */
  blocking?: boolean;
  /** Connect now rather than at the first command. @defaultValue false */
  eager?: boolean;
  /**
   * ioredis auto-pipelining: commands issued in the same event-loop tick go out in one
   * write. For connections serving many small concurrent reads. @defaultValue false
   */
  autoPipelining?: boolean;
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

  constructor(private readonly options: RedisFactoryOptions) {}

  /** A new connection named for logs (`CLIENT LIST` shows the name too). */
  create(name: string, opts: ConnectionOptions = {}): Redis {
    if (this.closed) throw new Error(`RedisFactory is closed; cannot open '${name}'`);
    const base: RedisOptions = {
      connectionName: `hgw:${name}`,
      connectTimeout: this.options.connectTimeoutMs,
      lazyConnect: !opts.eager,
      // Requests made while Redis is down fail fast instead of piling up in memory;
      // readiness reports the outage and callers answer 503.
      maxRetriesPerRequest: opts.blocking ? null : 1,
      enableOfflineQueue: true,
      enableAutoPipelining: opts.autoPipelining ?? false,
      ...(opts.resp2 ? { protocol: 2 as const } : {}),
      retryStrategy: (times) => Math.min(50 * 2 ** times, 2_000),
    };
    const redis = new Redis(this.options.url, base);
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
    redis.once('end', () => this.connections.delete(redis));
    return redis;
  }

  /** Connections currently open (for status and tests). */
  get size(): number {
    return this.connections.size;
  }

  /** Closes every connection: QUIT when possible, disconnect otherwise. */
  async closeAll(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.connections].map(async (redis) => {
        try {
          if (redis.status === 'ready') await redis.quit();
          else redis.disconnect();
        } catch {
          redis.disconnect();
        }
      }),
    );
    this.connections.clear();
  }
}
