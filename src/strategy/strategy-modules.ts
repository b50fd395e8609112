/**
 * The strategy side of a gateway, wired from its parts: the backend registry, the scheduler,
 * the runtime (switching and convergence), push ingest and the admin routes.
 */
import { AdminModule } from '../admin/admin-module.js';
import { BackendRegistry } from '../backends/backend-registry.js';
import type { GatewayModule, ModuleDeps } from '../gateway.js';
import { ingestPath, PushIngest } from '../push/http-ingest.js';
import type { Stores } from '../store/stores.js';
import { BullScheduler, type Scheduler } from './scheduler.js';
import { StrategyRuntime } from './strategy-runtime.js';

export interface StrategyModulesOptions {
  /** How often each replica re-reads the stored strategy. @defaultValue 1000 */
  convergeCheckMs?: number;
  /** Backend client retry base delay (tests use a tiny one). */
  retryBaseDelayMs?: number;
  /** The scheduler strategies run on. @defaultValue BullMQ on the gateway's Redis */
  scheduler?: (stores: Stores) => Scheduler;
}

export interface StrategyModules {
  runtime: StrategyRuntime;
  ingest: PushIngest;
  admin: AdminModule;
  backends: BackendRegistry;
  /** In start order. */
  modules: GatewayModule[];
}

export function createStrategyModules(deps: ModuleDeps, options: StrategyModulesOptions = {}): StrategyModules {
  const config = deps.config();
  const { stores } = deps;
  const backends = BackendRegistry.fromConfig(config, {
    logger: deps.logger,
    metrics: deps.metrics,
    cache: stores.cache,
    ingestUrl: (backendId) => `${deps.publicUrl()}${ingestPath(backendId)}`,
    ...(options.retryBaseDelayMs !== undefined ? { retryBaseDelayMs: options.retryBaseDelayMs } : {}),
  });
  const scheduler =
    options.scheduler?.(stores) ??
    new BullScheduler({ connections: stores, schedules: stores.schedules, bullPrefix: stores.keys.bull, logger: deps.logger });
  const runtime = StrategyRuntime.fromConfig(config, {
    config: deps.config,
    store: stores.cache,
    state: stores.strategies,
    backends,
    scheduler,
    logger: deps.logger,
    metrics: deps.metrics,
    now: deps.now,
    ...(options.convergeCheckMs !== undefined ? { convergeCheckMs: options.convergeCheckMs } : {}),
  });
  const ingest = PushIngest.fromConfig(config, {
    config: deps.config,
    auth: deps.auth,
    router: runtime,
    store: stores.cache,
    metrics: deps.metrics,
    logger: deps.logger,
    now: deps.now,
  });
  const admin = new AdminModule({ runtime, backends, store: stores.cache, feed: stores.feed, scheduler, now: deps.now });
  return { runtime, ingest, admin, backends, modules: [runtime, admin, ingest] };
}

/** A module factory for the strategy side alone (tests, single-purpose wiring). */
export function strategyModules(options: StrategyModulesOptions = {}) {
  return (deps: ModuleDeps): GatewayModule[] => createStrategyModules(deps, options).modules;
}
