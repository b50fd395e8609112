/**
 * One gateway process: Redis connections, the store and feed, the HTTP API, and the modules
 * that add routes and background work (strategies, webhooks, …). Replicas are stateless;
 * everything shared is in Redis.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { Config } from './config/schema.js';
import type { ConfigWatcher } from './config/config-watcher.js';
import { ApiRouter } from './http/api-router.js';
import { createApp } from './http/app.js';
import { Authenticator } from './http/auth.js';
import type { ReadinessCheck } from './http/health.js';
import type { Logger } from './log/logger.js';
import { Metrics } from './metrics/metrics.js';
import { RedisFactory } from './redis/redis-factory.js';
import { ChangeFeed } from './store/change-feed.js';
import { StateStore } from './store/state-store.js';

/** A part of the gateway with routes and/or background work. */
export interface GatewayModule {
  readonly name: string;
  /** Declares the module's HTTP routes. */
  routes?(api: ApiRouter): void;
  /** Starts background work once the server listens. */
  start?(): Promise<void>;
  /** Stops background work; called in reverse order of start. */
  stop?(): Promise<void>;
  /** Extra `/readyz` checks. */
  readiness?(): ReadinessCheck[];
  /** A new validated config was loaded while running. */
  configChanged?(next: Config, previous: Config): void | Promise<void>;
}

export type ModuleFactory = (gateway: Gateway) => GatewayModule;

export interface GatewayOptions {
  config: Config;
  logger: Logger;
  /** When given, config edits are applied while running. */
  watcher?: ConfigWatcher;
  /** Modules to run; each is created with this gateway. */
  modules?: ModuleFactory[];
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
}

export class Gateway {
  readonly redisFactory: RedisFactory;
  /** Shared command connection (store, feed, modules' non-blocking commands). */
  readonly redis: Redis;
  readonly store: StateStore;
  readonly feed: ChangeFeed;
  readonly auth: Authenticator;
  readonly api: ApiRouter;
  readonly metrics = new Metrics();
  readonly logger: Logger;
  readonly now: () => number;
  readonly modules: GatewayModule[];
  private server: Server | undefined;
  private current: Config;
  private stopping: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  private started: GatewayModule[] = [];

  constructor(private readonly options: GatewayOptions) {
    const { config, logger } = options;
    this.current = config;
    this.logger = logger;
    this.now = options.now ?? Date.now;
    this.redisFactory = new RedisFactory({ ...config.redis, logger });
    this.redis = this.redisFactory.create('store');
    this.store = new StateStore(this.redis, config.redis.keyPrefix, config.feed, this.now);
    this.feed = new ChangeFeed(this.redis, config.redis.keyPrefix, config.feed, this.now);
    this.auth = new Authenticator(config.auth.tokens);
    this.api = new ApiRouter(this.auth);
    this.modules = (options.modules ?? []).map((create) => create(this));
    for (const module of this.modules) module.routes?.(this.api);
  }

  /** The config in force. */
  get config(): Config {
    return this.current;
  }

  /** Checks `/readyz` runs. */
  readiness(): ReadinessCheck[] {
    return [
      { name: 'redis', timeoutMs: this.current.redis.pingTimeoutMs, check: () => this.redis.ping() },
      ...this.modules.flatMap((m) => m.readiness?.() ?? []),
    ];
  }

  /** Starts listening, then the modules; resolves with the bound URL. */
  async start(): Promise<string> {
    const app = createApp({
      logger: this.logger,
      bodyLimitBytes: this.current.server.bodyLimitBytes,
      readiness: () => this.readiness(),
      routers: [this.api.router()],
      metrics: this.metrics,
    });
    this.server = createServer(app);
    // Keep-alive a little longer than common proxies' idle timeouts to avoid reset races.
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.current.server.port, this.current.server.host, () => resolve());
    });
    // Connect now so a wrong REDIS_URL shows in the log at start, but do not refuse to start:
    // /readyz reports the outage and the connection keeps retrying.
    this.redis.connect().catch((err: Error) => this.logger.warn('redis not reachable yet; retrying', { error: err.message }));
    for (const module of this.modules) {
      await module.start?.();
      this.started.push(module);
    }
    this.unsubscribe = this.options.watcher?.subscribe((next) => this.applyConfig(next));
    this.logger.info('heat-gateway listening', { url: this.url, strategy: this.current.strategy.name });
    return this.url;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('gateway is not listening');
    return `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;
  }

  /** Where backends reach this gateway: server.publicUrl, or the bound address. */
  get publicUrl(): string {
    return (this.current.server.publicUrl ?? this.url).replace(/\/+$/, '');
  }

  /** Applies a reloaded config: tokens at once, modules decide for their parts. */
  async applyConfig(next: Config): Promise<void> {
    const previous = this.current;
    this.current = next;
    this.auth.update(next.auth.tokens);
    for (const key of ['server', 'redis'] as const) {
      if (JSON.stringify(next[key]) !== JSON.stringify(previous[key])) {
        this.logger.warn(`${key} settings changed; they take effect at the next restart`);
      }
    }
    for (const module of this.modules) {
      try {
        await module.configChanged?.(next, previous);
      } catch (err) {
        this.logger.error('module failed to apply the new config', { module: module.name, error: (err as Error).message });
      }
    }
  }

  /** Graceful stop: stop accepting, stop modules, let requests finish (bounded), close Redis. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.unsubscribe?.();
      const server = this.server;
      const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
      server?.closeIdleConnections();
      for (const module of [...this.started].reverse()) {
        try {
          await module.stop?.();
        } catch (err) {
          this.logger.error('module failed to stop', { module: module.name, error: (err as Error).message });
        }
      }
      const grace = setTimeout(() => server?.closeAllConnections(), this.current.server.shutdownGraceMs);
      await closed;
      clearTimeout(grace);
      await this.redisFactory.closeAll();
      this.logger.info('heat-gateway stopped');
    })();
    return this.stopping;
  }
}
