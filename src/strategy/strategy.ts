/**
 * The strategy contract. A strategy decides how instance state reaches the cache; it never
 * owns Redis: it gets a context (the store, its sources, a scheduler, its options, a logger)
 * and writes what it reads through the store. Reads are always served from the cache; a
 * strategy may refresh the cache before a read (on-demand does).
 */
import type { SourceCatalog } from '../backends/backend-registry.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
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

export interface StrategyContext<O = Record<string, unknown>> {
  /** The strategy's name (from its definition): job names, due sets and `source` derive from it. */
  name: string;
  /**
   * The strategy's options in force (a config reload may change them): a backend's own
   * (`backends[].strategy`) when given, else `strategy.<key>`.
   */
  options: (backendId?: string) => O;
  /** Its staleness bound under the options in force (for one backend, when given). */
  staleAfterMs: (backendId?: string) => number;
  store: StateStore;
  /** The backends it reads, by capability. */
  sources: SourceCatalog;
  scheduler: Scheduler;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
  /** Backends some running strategy reads right now (instance ownership, see apply-listing). */
  liveOwners?: () => readonly string[];
}

export interface Strategy {
  readonly name: string;
  /**
   * Pushes are this strategy's source: what a notification says is stored as it is, and only
   * what it cannot say is fetched (push ingest and the AMQP consumers act on it).
   */
  readonly trustsPushes?: boolean;
  /** Starts schedules/subscriptions. Must be idempotent across replicas. */
  start(): Promise<void>;
  /** Stops this process's part; `final` also removes shared schedules (a switch away). */
  stop(options?: { final?: boolean }): Promise<void>;
  /** Called before a read is served from the cache. */
  beforeRead(target: ReadTarget): Promise<ReadFreshness>;
  /** Reads older than this (of one backend, when given) are marked `stale` in `meta`. */
  staleAfterMs(backendId?: string): number;
  /** A backend pushed something. Strategies that do not use pushes may ignore it. */
  onPush(hints: PushHint[]): Promise<void>;
  /** Forgets what it scheduled for a backend that moved to another strategy. */
  release?(backendId: string): Promise<void>;
}

/** A do-nothing strategy body: cache-only reads, no schedules. Subclasses override what they need. */
export abstract class BaseStrategy<O = Record<string, unknown>> implements Strategy {
  readonly name: string;
  protected readonly log: Logger;

  constructor(protected readonly ctx: StrategyContext<O>) {
    this.name = ctx.name;
    this.log = ctx.logger.child({ strategy: ctx.name });
  }

  /** The options in force (the default ones; see {@link optionsFor}). */
  protected get options(): O {
    return this.ctx.options();
  }

  /** The options in force for one backend (its own, when its config gives them). */
  protected optionsFor(backendId: string): O {
    return this.ctx.options(backendId);
  }

  async start(): Promise<void> {}
  async stop(_options?: { final?: boolean }): Promise<void> {}
  async beforeRead(_target: ReadTarget): Promise<ReadFreshness> {
    return { failed: false };
  }
  staleAfterMs(backendId?: string): number {
    return this.ctx.staleAfterMs(backendId);
  }
  async onPush(_hints: PushHint[]): Promise<void> {}
}
