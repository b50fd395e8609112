/**
 * The store layer: the only door to Redis. It owns the connections and hands out one store
 * class per kind of data (cache, feed, schedules, rate limits, strategy state, leases,
 * webhook registry, delivery log); modules receive the stores they need. BullMQ's queues get
 * their connections here too (their commands are BullMQ's own).
 */
import type { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { RedisFactory, type ConnectionOptions } from '../redis/redis-factory.js';
import type { DeliveryQueue } from '../webhooks/delivery-queue.js';
import { CacheAgeReader } from './cache-ages.js';
import { CacheReader, type ServedDoc } from './cache-reader.js';
import { TrackedReadCache, type ReadCacheOptions } from './read-cache.js';
import { ChangeFeed } from './change-feed.js';
import { deletePrefix } from './delete-prefix.js';
import { BATCH_SCRIPTS, DeliveryStore } from './delivery-store.js';
import { Keys } from './keys.js';
import { LeaseStore } from './lease-store.js';
import { RateLimitStore } from './rate-limit-store.js';
import { ReplicaRegistry } from './replica-registry.js';
import { ScheduleStore } from './schedule-store.js';
import { StateStore } from './state-store.js';
import { StrategyStateStore } from './strategy-state-store.js';
import { WebhookRegistry } from './webhook-registry.js';
import { WebhookStats } from './webhook-stats.js';

/** Connections for BullMQ queues and workers. */
export interface QueueConnections {
  queue(name: string, options?: { blocking?: boolean }): Redis;
}

export interface StoresDeps {
  logger: Logger;
  now: () => number;
  /** Told of every feed event this process appends (the feed-appends metric). */
  onFeedAppend?: (type: string) => void;
}

export class Stores implements QueueConnections {
  readonly keys: Keys;
  /** The cache: the one write path, and reads. */
  readonly cache: StateStore;
  /**
   * The reads' client-side cache of instances and of pages of them, kept true by Redis
   * invalidations. Absent on a Redis Cluster (see the constructor).
   */
  readonly readCache: TrackedReadCache | undefined;
  /** Cache reads on an auto-pipelined connection of their own (the API's hot path). */
  readonly reads: CacheReader;
  readonly feed: ChangeFeed;
  readonly schedules: ScheduleStore;
  readonly rateLimits: RateLimitStore;
  readonly strategies: StrategyStateStore;
  readonly leases: LeaseStore;
  readonly webhooks: WebhookRegistry;
  private readonly factory: RedisFactory;
  /** Shared command connection of every store but the API reads and the delivery log. */
  private readonly redis: Redis;
  private deliveryConnection: Redis | undefined;

  private constructor(config: Config, deps: StoresDeps) {
    const { keyPrefix } = config.redis;
    // The whole redis section: one node, a Sentinel group or a Cluster (redis-topology.ts).
    this.factory = new RedisFactory({ ...config.redis, commandTimeoutMs: config.redis.pingTimeoutMs, logger: deps.logger });
    const onAppend = deps.onFeedAppend ?? (() => {});
    this.redis = this.factory.create('store');
    this.keys = new Keys(keyPrefix);
    this.cache = new StateStore(this.redis, keyPrefix, config.feed, deps.now, onAppend);
    // Under concurrent load, the reads of one event-loop tick go to Redis in one write; hot
    // instances are answered from a client-side cache Redis invalidates (CLIENT TRACKING).
    const reads = this.factory.create('api-reads', { autoPipelining: true });
    // Not on a Cluster: tracking is per connection, and a Cluster client holds one connection
    // per node, so CLIENT TRACKING on one of them would not cover the node that owns our slot
    // and the cache would keep values Redis has replaced. Reads there go to Redis every time.
    this.readCache = config.redis.cluster
      ? undefined
      : new TrackedReadCache(reads, () => this.factory.create('api-reads-invalidations', { resp2: true }), deps.logger, trackedReadKeys(keyPrefix));
    this.reads = new CacheReader(reads, keyPrefix, this.readCache);
    // Tracking goes on as soon as both connections are up (and again after any loss).
    void this.readCache?.start();
    this.feed = new ChangeFeed(this.redis, keyPrefix, config.feed, deps.now, onAppend, (name) => this.factory.create(name, { blocking: true }));
    this.schedules = new ScheduleStore(this.redis, this.keys, (written, left) =>
      deps.logger.info('due times kept during the Redis outage written', { written, left }),
    );
    this.rateLimits = new RateLimitStore(this.redis, this.keys);
    this.strategies = new StrategyStateStore(this.redis, this.keys, config.feed, deps.now, () => this.factory.create('strategy-pubsub', { blocking: true }));
    this.leases = new LeaseStore(this.redis);
    this.webhooks = new WebhookRegistry(this.redis, keyPrefix, deps.now);
  }

  static fromConfig(config: Config, deps: StoresDeps): Stores {
    return new Stores(config, deps);
  }

  /** How fresh the cache is, by age bucket (the status page). */
  cacheAges(): CacheAgeReader {
    return new CacheAgeReader(this.redis, this.keys.prefix);
  }

  /** Which replicas are alive (heartbeats). */
  replicas(aliveMs: number): ReplicaRegistry {
    return new ReplicaRegistry(this.redis, this.keys.prefix, aliveMs);
  }

  /** Per-endpoint delivery figures (the status page). */
  webhookStats(deliveries: DeliveryStore, queue: DeliveryQueue): WebhookStats {
    return new WebhookStats(this.redis, this.keys.webhooks, this.webhooks, deliveries, queue);
  }

  /**
   * The delivery log, with its retention settings (read at each write), on an auto-pipelined
   * connection of its own: the single-delivery calls (claims, renewals, hand-overs) that fall
   * in one event-loop tick go to Redis in one write instead of one write each; the batch
   * calls are batches already and go at once.
   */
  deliveries(settings: () => { ttlSeconds: number; attemptLogLimit: number }): DeliveryStore {
    this.deliveryConnection ??= this.factory.create('webhook-deliveries', { autoPipelining: true, writeAtOnce: BATCH_SCRIPTS });
    return new DeliveryStore(this.deliveryConnection, this.keys.webhooks, settings);
  }

  /** A connection for a BullMQ queue or worker. */
  queue(name: string, options: Pick<ConnectionOptions, 'blocking'> = {}): Redis {
    return this.factory.create(name, options);
  }

  /** Resolves once the shared connection is ready (callers that use the stores outside a gateway). */
  async ready(timeoutMs = 5_000): Promise<void> {
    if (this.redis.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.redis.off('ready', onReady);
        reject(new Error(`Redis did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      this.redis.once('ready', onReady);
    });
  }

  /** The readiness probe: one PING. */
  async ping(): Promise<void> {
    await this.redis.ping();
  }

  /** Redis' `used_memory` (benchmarks report what a run added). */
  async usedMemoryBytes(): Promise<number> {
    const info = await this.redis.info('memory');
    return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
  }

  /** Deletes every key under this gateway's prefix (benchmark runs clean up after themselves). */
  deleteAll(): Promise<void> {
    return deletePrefix(this.redis, this.keys.prefix);
  }

  /** Connections open right now (status, tests). */
  get openConnections(): number {
    return this.factory.size;
  }

  /** Drops every connection at once: whatever waits on Redis fails now (a stop past its grace). */
  disconnectAll(): void {
    void this.readCache?.stop();
    this.factory.disconnectAll();
  }

  /** Closes every connection, politely within `withinMs` when given. */
  async close(withinMs?: number): Promise<void> {
    await this.readCache?.stop();
    await this.factory.closeAll(withinMs);
  }
}

/**
 * What the read cache of a gateway with `keyPrefix` is kept true by: documents (`i:`), the
 * index of all instances (pages), and the refresh failures every read shows (a change there
 * drops every entry).
 */
export function trackedReadKeys(keyPrefix: string): Pick<ReadCacheOptions, 'prefixes' | 'flushOn'> {
  return { prefixes: [`${keyPrefix}i:`, `${keyPrefix}idx:i`, `${keyPrefix}refresh-failures`], flushOn: [`${keyPrefix}refresh-failures`] };
}
