/**
 * One gateway process: Redis connections, the store and feed, the HTTP API, and the modules
 * that add routes and background work (strategies, webhooks, …). Replicas are stateless;
 * everything shared is in Redis.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config/schema.js';
import type { ConfigWatcher } from './config/config-watcher.js';
import { ApiRouter } from './http/api-router.js';
import { createApp } from './http/app.js';
import { Authenticator } from './http/auth.js';
import type { ReadinessCheck } from './http/health.js';
import type { Logger } from './log/logger.js';
import { Metrics } from './metrics/metrics.js';
import { isRedisUnavailable, redactRedisUrl } from './redis/redis-errors.js';
import type { ChangeFeed } from './store/change-feed.js';
import { storeLayoutGuard } from './store/store-layout.js';
import type { StateStore } from './store/state-store.js';
import { Stores } from './store/stores.js';

/** A part of the gateway with routes and/or background work. */
export interface GatewayModule {
  readonly name: string;
  /** Declares the module's HTTP routes. */
  routes?(api: ApiRouter): void;
  /** Answers a request before express when it surely can (hot reads); false leaves it, untouched, to the routes. */
  serveFast?(req: IncomingMessage, res: ServerResponse): boolean;
  /** Starts background work once the server listens. */
  start?(): Promise<void>;
  /** Stops background work; called in reverse order of start. */
  stop?(): Promise<void>;
  /** Extra `/readyz` checks. */
  readiness?(): ReadinessCheck[];
  /** Extra sections for `GET /admin/status`. */
  status?(): Promise<Record<string, unknown>>;
  /** A new validated config was loaded while running. */
  configChanged?(next: Config, previous: Config): void | Promise<void>;
}

/**
 * What a module is built from. Modules take the parts they need from it (the stores, not a
 * Redis connection; the config getter, not the gateway).
 */
export interface ModuleDeps {
  /** The config in force (a reload replaces it). */
  config: () => Config;
  stores: Stores;
  auth: Authenticator;
  metrics: Metrics;
  logger: Logger;
  now: () => number;
  /** Where backends reach this gateway: server.publicUrl, or the bound address. */
  publicUrl: () => string;
}

/** Builds one module, or several that belong together (the strategy runtime and its routes). */
export type ModuleFactory = (deps: ModuleDeps) => GatewayModule | GatewayModule[];

export interface GatewayOptions {
  config: Config;
  logger: Logger;
  /** When given, config edits are applied while running. */
  watcher?: ConfigWatcher;
  /** Modules to run, in start order. */
  modules?: ModuleFactory[];
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
}

export class Gateway {
  /** The store layer: the only door to Redis. */
  readonly stores: Stores;
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
  /** True once every module started (Redis answered at least once). */
  private modulesStarted = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Wakes a wait for Redis early (stop() during start). */
  private wakeWait: (() => void) | undefined;

  constructor(private readonly options: GatewayOptions) {
    const { config, logger } = options;
    this.current = config;
    this.logger = logger;
    this.now = options.now ?? Date.now;
    this.stores = Stores.fromConfig(config, { logger, now: this.now, onFeedAppend: (type) => this.metrics.feedAppends.inc({ type }) });
    this.auth = new Authenticator(config.auth.tokens);
    this.api = new ApiRouter(this.auth);
    const deps: ModuleDeps = {
      config: () => this.current,
      stores: this.stores,
      auth: this.auth,
      metrics: this.metrics,
      logger,
      now: this.now,
      publicUrl: () => this.publicUrl,
    };
    this.modules = [storeLayoutGuard(this.stores, this.now), ...(options.modules ?? []).flatMap((create) => create(deps))];
    for (const module of this.modules) module.routes?.(this.api);
  }

  /** The cache (the one write path and reads). */
  get store(): StateStore {
    return this.stores.cache;
  }

  get feed(): ChangeFeed {
    return this.stores.feed;
  }

  /** The config in force. */
  get config(): Config {
    return this.current;
  }

  /** Where Redis is expected, safe to log (no password). */
  get redisUrlForLogs(): string {
    return redactRedisUrl(this.current.redis.url);
  }

  /** Checks `/readyz` runs. */
  readiness(): ReadinessCheck[] {
    const where = `redis.url ${this.redisUrlForLogs}`;
    const checks: ReadinessCheck[] = [
      {
        name: 'redis',
        timeoutMs: this.current.redis.pingTimeoutMs,
        check: () =>
          this.stores.ping().catch((err: Error) => {
            throw new Error(`${where} does not answer (${err.message}); set redis.url or REDIS_URL`);
          }),
      },
    ];
    if (!this.modulesStarted) {
      checks.push({
        name: 'startup',
        check: async () => {
          throw new Error(`waiting for Redis at ${where} before starting strategies and webhooks`);
        },
      });
    }
    return [...checks, ...this.modules.flatMap((m) => m.readiness?.() ?? [])];
  }

  /**
   * Starts listening, then waits for Redis (logging where it waits, every few seconds) and
   * starts the modules; resolves with the bound URL once everything runs. `/healthz` answers
   * from the moment the server listens; `/readyz` is 503 until the modules run.
   */
  async start(): Promise<string> {
    const app = createApp({
      logger: this.logger,
      bodyLimitBytes: this.current.server.bodyLimitBytes,
      readiness: () => this.readiness(),
      routers: [this.api.router()],
      metrics: this.metrics,
    });
    const fast = this.modules.filter((m) => m.serveFast);
    this.server = createServer((req, res) => {
      if (!fast.some((m) => m.serveFast!(req, res))) app(req, res);
    });
    // Keep-alive a little longer than common proxies' idle timeouts to avoid reset races.
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.current.server.port, this.current.server.host, () => resolve());
    });
    this.logger.info('heat-gateway listening', { url: this.url, strategy: this.current.strategy.name });
    this.warnAboutMissingConfig();
    for (const module of this.modules) {
      // A module that meets a Redis outage while starting waits for Redis and starts again
      // (module starts are idempotent); anything else is a real failure.
      for (;;) {
        await this.waitForRedis();
        if (this.stopping) return this.url;
        try {
          await module.start?.();
          break;
        } catch (err) {
          if (this.stopping || !isRedisUnavailable(err)) throw err;
          this.logger.warn('Redis went away while a module started; waiting for it', { module: module.name, error: (err as Error).message });
        }
      }
      this.started.push(module);
    }
    this.modulesStarted = true;
    this.startTombstoneSweep();
    this.unsubscribe = this.options.watcher?.subscribe((next) => this.applyConfig(next));
    this.logger.info('heat-gateway ready', { url: this.url, strategy: this.current.strategy.name });
    return this.url;
  }

  /** Sweeps tombstones (Tombstones.sweep) every tenth of feed.tombstoneTtlMs, at most every minute, in every replica. */
  private startTombstoneSweep(): void {
    const sweep = () => {
      this.store.tombstones.sweep(this.now() - this.current.feed.tombstoneTtlMs).then(
        ({ indexed, purged }) => {
          if (indexed > 0) this.logger.info('indexed deleted records an earlier version never purged; they expire like any tombstone', { indexed });
          if (purged > 0) this.logger.debug('purged expired tombstones', { purged });
        },
        (err: Error) => isRedisUnavailable(err) || this.logger.warn('tombstone sweep failed; the next one retries', { error: err.message }),
      );
    };
    this.sweepTimer = setInterval(sweep, Math.max(1_000, Math.min(60_000, this.current.feed.tombstoneTtlMs / 10)));
    this.sweepTimer.unref();
    sweep();
  }

  /** What an operator most likely forgot: tokens (every route 401) and backends (empty cache). */
  private warnAboutMissingConfig(): void {
    if (this.current.auth.tokens.length === 0) {
      this.logger.warn(
        'no auth.tokens are configured: every /v1 and /admin route answers 401; add tokens under auth.tokens (role client for Conductor, admin for operators, backend for push ingest)',
      );
    }
    if (this.current.backends.length === 0) {
      this.logger.warn(
        'no backends are configured: the cache stays empty; add backends[] (kind heat with keystone credentials, or kind deltacloud), see config/default.yaml',
      );
    }
  }

  /** Resolves once Redis answers PING (or stop() was called), logging every few seconds while it waits. */
  private async waitForRedis(): Promise<void> {
    // The first attempts race the connection's own start-up: warn only after a second.
    let nextLogAt = Date.now() + 1_000;
    let warned = false;
    for (;;) {
      if (this.stopping) return;
      try {
        await this.stores.ping();
        if (warned) this.logger.info('Redis answers; starting', { redis: this.redisUrlForLogs });
        return;
      } catch (err) {
        if (Date.now() >= nextLogAt) {
          warned = true;
          this.logger.warn(
            `waiting for Redis at ${this.redisUrlForLogs} (set redis.url in the config file, or REDIS_URL); /healthz is up, /readyz answers 503 until Redis answers`,
            { error: (err as Error).message },
          );
          nextLogAt = Date.now() + 5_000;
        }
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 250);
        this.wakeWait = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
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

  /**
   * Graceful stop within server.shutdownGraceMs whatever Redis does: stop accepting, stop
   * modules, let requests finish; at the deadline, close what is left (connections, modules
   * still waiting on Redis) and disconnect Redis.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const graceMs = this.current.server.shutdownGraceMs;
      // The promise is that the *process* is gone within the grace period: keep a slice of it
      // for what follows stop() (flushing logs, process exit).
      const deadline = Date.now() + graceMs - Math.min(250, graceMs / 10);
      this.wakeWait?.();
      clearInterval(this.sweepTimer);
      this.unsubscribe?.();
      const server = this.server;
      const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
      server?.closeIdleConnections();
      const modules = (async () => {
        for (const module of [...this.started].reverse()) {
          try {
            await module.stop?.();
          } catch (err) {
            this.logger.error('module failed to stop', { module: module.name, error: (err as Error).message });
          }
        }
      })();
      // Keep a little of the grace period to close Redis connections politely.
      const closeMs = Math.min(500, graceMs / 4);
      if (!(await settlesWithin(modules, deadline - closeMs - Date.now()))) {
        this.logger.warn('modules did not stop within server.shutdownGraceMs; abandoning their work (it is retried elsewhere)', { graceMs });
        // Whatever still waits on Redis (BullMQ closing, an XREADGROUP) fails now.
        this.stores.disconnectAll();
      }
      if (!(await settlesWithin(closed, deadline - closeMs - Date.now()))) server?.closeAllConnections();
      await this.stores.close(Math.max(10, deadline - Date.now()));
      this.logger.info('heat-gateway stopped');
    })();
    return this.stopping;
  }
}

/** True when `work` settled within `ms` (it keeps running otherwise). */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    work.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms)))),
  ]);
  clearTimeout(timer);
  return settled;
}
