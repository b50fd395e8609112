/**
 * Runs the strategy in force and switches strategies while running. The choice is recorded
 * in the strategy-state store and announced, so every replica converges on it (a periodic
 * check covers a missed announcement). A switch starts the new strategy before the old one
 * stops, removes the old one's schedules, appends one `gateway.strategy_changed` event, and
 * leaves the cache and the feed alone; reads are served throughout.
 */
import type { ActiveStrategy } from '../api/active-strategy.js';
import type { BackendRegistry } from '../backends/backend-registry.js';
import type { Config } from '../config/schema.js';
import type { GatewayModule } from '../gateway.js';
import type { ReadinessCheck } from '../http/health.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { StateStore } from '../store/state-store.js';
import type { StoredStrategy, StrategyStateStore } from '../store/strategy-state-store.js';
import { optionsKey, type AnyStrategyDefinition } from './define-strategy.js';
import { findStrategy, STRATEGY_NAMES, strategyDefinition } from './registry.js';
import type { Scheduler } from './scheduler.js';
import type { PushHint, Strategy } from './strategy.js';

export interface StrategyRuntimeDeps {
  /** The config in force (a reload may change it). */
  config: () => Config;
  store: StateStore;
  state: StrategyStateStore;
  backends: BackendRegistry;
  /** Where strategies' schedules run (BullMQ in production, a ManualScheduler in tests). */
  scheduler: Scheduler & { start?(): void; close?(): Promise<void> };
  logger: Logger;
  metrics: Metrics;
  now: () => number;
  /** How often each replica re-reads the stored choice (the announcement is the fast path). @defaultValue 1000 */
  convergeCheckMs?: number;
}

/** What `GET /admin/strategy` shows. */
export interface StrategyState {
  name: string;
  since: string | null;
  by: string | null;
  running: string | null;
  available: string[];
}

export class StrategyRuntime implements GatewayModule, ActiveStrategy {
  readonly name = 'strategies';
  private active: Strategy | undefined;
  private switching: Promise<void> = Promise.resolve();
  private unsubscribe: (() => Promise<void>) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(private readonly deps: StrategyRuntimeDeps) {
    this.log = deps.logger.child({ component: 'strategy-runtime' });
  }

  static fromConfig(config: Config, deps: Omit<StrategyRuntimeDeps, 'config'> & { config?: () => Config }): StrategyRuntime {
    return new StrategyRuntime({ ...deps, config: deps.config ?? (() => config) });
  }

  get scheduler(): StrategyRuntimeDeps['scheduler'] {
    return this.deps.scheduler;
  }

  get backends(): BackendRegistry {
    return this.deps.backends;
  }

  /** The strategy serving reads right now. */
  current(): Strategy {
    if (!this.active) throw new Error('no strategy is running yet');
    return this.active;
  }

  /** Hands a push to the strategy in force (strategies without pushes ignore it). */
  onPush(hints: PushHint[]): Promise<void> {
    return this.current().onPush(hints);
  }

  async start(): Promise<void> {
    this.deps.scheduler.start?.();
    const configName = this.deps.config().strategy.name;
    const stored = await this.deps.state.get();
    // The config wins when it names a strategy other than the one it named at the last
    // switch (an operator edited it); otherwise the stored choice (PUT /admin/strategy) stands.
    if (!stored.name || stored.configName !== configName) await this.record(configName, 'config');
    await this.converge((await this.deps.state.get()).name ?? configName);
    this.unsubscribe = await this.deps.state.subscribe((scope, name) => {
      if (scope === '') this.enqueueConverge(name);
    });
    this.timer = setInterval(() => {
      this.deps.state
        .get()
        .then((s) => s.name && this.enqueueConverge(s.name))
        .catch((err: Error) => this.log.warn('cannot read the stored strategy', { error: err.message }));
    }, this.deps.convergeCheckMs ?? 1_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.unsubscribe?.();
    await this.switching;
    await this.active?.stop();
    await this.deps.scheduler.close?.();
  }

  /** Where the strategy in force is recorded. */
  stored(): Promise<StoredStrategy> {
    return this.deps.state.get();
  }

  /** Switches every replica to `name`. Resolves once this replica runs it. */
  async switchTo(name: string, by: string): Promise<{ changed: boolean; previous: string | null }> {
    strategyDefinition(name);
    const result = await this.record(name, by);
    await this.converge(name);
    return result;
  }

  /** The state `GET /admin/strategy` shows. */
  async describe(): Promise<StrategyState> {
    const s = await this.stored();
    return {
      name: s.name ?? this.deps.config().strategy.name,
      since: s.since ?? null,
      by: s.by ? (JSON.parse(s.by) as string) : null,
      running: this.active?.name ?? null,
      available: [...STRATEGY_NAMES],
    };
  }

  private record(name: string, by: string) {
    return this.deps.state.record('', name, by, this.deps.config().strategy.name);
  }

  private enqueueConverge(name: string): void {
    if (!findStrategy(name) || name === this.active?.name) return;
    this.converge(name).catch((err: Error) => this.log.error('strategy switch failed', { to: name, error: err.message }));
  }

  /** Runs `name` here: the new strategy starts before the old one stops. Serialized. */
  private converge(name: string): Promise<void> {
    this.switching = this.switching.then(async () => {
      if (this.active?.name === name) return;
      const next = this.create(strategyDefinition(name));
      await next.start();
      const previous = this.active;
      this.active = next;
      if (previous) await previous.stop({ final: true });
      this.log.info('strategy running', { strategy: name, previous: previous?.name ?? null });
    });
    return this.switching;
  }

  /** A strategy from its definition, reading the backends of the kinds it can read. */
  private create(definition: AnyStrategyDefinition): Strategy {
    const options = () => (this.deps.config().strategy[optionsKey(definition.name)] ?? definition.options.parse({})) as Record<string, unknown>;
    const kindOf = (id: string) => this.deps.backends.clients.get(id)?.kind;
    return definition.create({
      name: definition.name,
      options,
      staleAfterMs: () => definition.staleAfterMs(options()),
      store: this.deps.store,
      sources: this.deps.backends.catalog((id) => {
        const kind = kindOf(id);
        return kind !== undefined && definition.reads.includes(kind);
      }),
      scheduler: this.deps.scheduler,
      logger: this.deps.logger,
      metrics: this.deps.metrics,
      now: this.deps.now,
    });
  }

  async configChanged(next: Config, previous: Config): Promise<void> {
    if (this.deps.backends.reconfigure(next.backends)) {
      // Restart so due sets and subscriptions follow the new backends.
      await (this.switching = this.switching.then(async () => {
        await this.active?.stop();
        await this.active?.start();
      }));
    }
    if (next.strategy.name !== previous.strategy.name) await this.switchTo(next.strategy.name, 'config');
  }

  readiness(): ReadinessCheck[] {
    return this.deps.backends.readiness();
  }
}
