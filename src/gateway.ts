/**
 * One gateway process: Redis connections, the store and feed, the HTTP API, and the
 * lifecycle that starts and stops them. Replicas are stateless; everything shared is in Redis.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Router } from 'express';
import type { Redis } from 'ioredis';
import type { Config } from './config/schema.js';
import type { ConfigWatcher } from './config/config-watcher.js';
import { createApp } from './http/app.js';
import { Authenticator } from './http/auth.js';
import type { ReadinessCheck } from './http/health.js';
import type { Logger } from './log/logger.js';
import { RedisFactory } from './redis/redis-factory.js';
import { ChangeFeed } from './store/change-feed.js';
import { StateStore } from './store/state-store.js';

export interface GatewayOptions {
  config: Config;
  logger: Logger;
  /** When given, config edits are applied while running. */
  watcher?: ConfigWatcher;
}

export class Gateway {
  readonly redisFactory: RedisFactory;
  readonly redis: Redis;
  readonly store: StateStore;
  readonly feed: ChangeFeed;
  readonly auth: Authenticator;
  private server: Server | undefined;
  private config: Config;
  private stopping: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly options: GatewayOptions) {
    const { config, logger } = options;
    this.config = config;
    this.redisFactory = new RedisFactory({ url: config.redis.url, connectTimeoutMs: config.redis.connectTimeoutMs, logger });
    this.redis = this.redisFactory.create('store');
    this.store = new StateStore(this.redis, config.redis.keyPrefix, config.feed);
    this.feed = new ChangeFeed(this.redis, config.redis.keyPrefix, config.feed);
    this.auth = new Authenticator(config.auth.tokens);
  }

  /** Checks `/readyz` runs. */
  readiness(): ReadinessCheck[] {
    return [{ name: 'redis', timeoutMs: this.config.redis.pingTimeoutMs, check: () => this.redis.ping() }];
  }

  /** Starts listening; resolves with the bound URL. Extra routers mount under the app. */
  async start(routers: Router[] = []): Promise<string> {
    const { logger } = this.options;
    const app = createApp({
      logger,
      bodyLimitBytes: this.config.server.bodyLimitBytes,
      readiness: () => this.readiness(),
      routers,
    });
    this.server = createServer(app);
    // Keep-alive a little longer than common proxies' idle timeouts to avoid reset races.
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.config.server.port, this.config.server.host, () => resolve());
    });
    // Connect now so a wrong REDIS_URL shows in the log at start, but do not refuse to start:
    // /readyz reports the outage and the connection keeps retrying.
    this.redis.connect().catch((err: Error) => logger.warn('redis not reachable yet; retrying', { error: err.message }));
    this.unsubscribe = this.options.watcher?.subscribe((next) => this.applyConfig(next));
    logger.info('heat-gateway listening', { url: this.url, strategy: this.config.strategy.name });
    return this.url;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('gateway is not listening');
    return `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;
  }

  /** Applies the parts of a reloaded config that can change while running. */
  private applyConfig(next: Config): void {
    const previous = this.config;
    this.config = next;
    this.auth.update(next.auth.tokens);
    if (next.strategy.name !== previous.strategy.name) {
      this.options.logger.info('strategy changed in config', { from: previous.strategy.name, to: next.strategy.name });
    }
    for (const key of ['server', 'redis'] as const) {
      if (JSON.stringify(next[key]) !== JSON.stringify(previous[key])) {
        this.options.logger.warn(`${key} settings changed; they take effect at the next restart`);
      }
    }
  }

  /** Graceful stop: stop accepting, let requests finish (bounded), close every connection. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.unsubscribe?.();
      const server = this.server;
      if (server) {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const grace = setTimeout(() => server.closeAllConnections(), this.config.server.shutdownGraceMs);
        await closed;
        clearTimeout(grace);
      }
      await this.redisFactory.closeAll();
      this.options.logger.info('heat-gateway stopped');
    })();
    return this.stopping;
  }
}
