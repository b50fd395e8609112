/**
 * The strategy contract. A strategy decides how instance state reaches the cache; it never
 * owns Redis: it gets a context (store, backend clients, scheduler, config, logger) and
 * writes observations through the store. Reads are always served from the cache; a strategy
 * may refresh the cache before a read (on-demand does).
 */
import type { BackendClient } from '../backends/create-backend-clients.js';
import type { Config, StrategyName } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ChangeFeed } from '../store/change-feed.js';
import type { StateStore } from '../store/state-store.js';
import type { Scheduler } from './scheduler.js';

/** What a Conductor read is about to serve. */
export type ReadTarget =
  | { kind: 'instance'; id: string }
  | { kind: 'instances'; deploymentId?: string }
  | { kind: 'deployment'; id: string }
  | { kind: 'deployments' };

export interface ReadFreshness {
  /** The strategy tried to refresh and could not: serve the cache marked stale. */
  failed: boolean;
  /** Why, for the log and `meta.staleReason`. */
  reason?: string;
}

/** A backend push, reduced to what it names (the ingest endpoint parses the real formats). */
export interface PushHint {
  backendId: string;
  /** Heat stack id, when the push names one. */
  stackId?: string;
  stackName?: string;
  /** Nova server / Deltacloud instance id, when the push names one. */
  instanceId?: string;
  /** The raw event type, e.g. `os.heat.event`, `compute.instance.update`. */
  event: string;
}

export interface StrategyContext {
  store: StateStore;
  feed: ChangeFeed;
  /** Backend clients by backend id. */
  backends: () => ReadonlyMap<string, BackendClient>;
  scheduler: Scheduler;
  /** The config in force (it may change while running). */
  config: () => Config;
  logger: Logger;
  metrics: Metrics;
  /** URL a backend must POST pushes to. */
  ingestUrl: (backendId: string) => string;
  now: () => number;
}

export interface Strategy {
  readonly name: StrategyName;
  /** Starts schedules/subscriptions. Must be idempotent across replicas. */
  start(): Promise<void>;
  /** Stops this process's part; `final` also removes shared schedules (a switch away). */
  stop(options?: { final?: boolean }): Promise<void>;
  /** Called before a read is served from the cache. */
  beforeRead(target: ReadTarget): Promise<ReadFreshness>;
  /** Reads older than this are marked `stale` in `meta`. */
  staleAfterMs(): number;
  /** A backend pushed something. Strategies that do not use pushes may ignore it. */
  onPush(hints: PushHint[]): Promise<void>;
}

/** A do-nothing strategy body: cache-only reads, no schedules. Subclasses override what they need. */
export abstract class BaseStrategy implements Strategy {
  abstract readonly name: StrategyName;

  constructor(protected readonly ctx: StrategyContext) {}

  private childLogger: Logger | undefined;

  /** Tagged with the strategy; made on first use, as `name` is a subclass field. */
  protected get log(): Logger {
    this.childLogger ??= this.ctx.logger.child({ strategy: this.name });
    return this.childLogger;
  }

  async start(): Promise<void> {}
  async stop(_options?: { final?: boolean }): Promise<void> {}
  async beforeRead(_target: ReadTarget): Promise<ReadFreshness> {
    return { failed: false };
  }
  staleAfterMs(): number {
    return Number.POSITIVE_INFINITY;
  }
  async onPush(_hints: PushHint[]): Promise<void> {}
}
