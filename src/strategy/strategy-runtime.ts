/**
 * Runs the strategies in force and switches them while running. Each backend runs one
 * strategy (its own choice, else the default); one instance runs per strategy, for the set of
 * backends assigned to it. Choices are recorded in the strategy-state store and announced, so
 * every replica converges on them (a periodic check covers a missed announcement). A switch
 * starts the new instance before the old one stops, removes what the old one scheduled for
 * the backends that left it (nothing of the others'), appends one `gateway.strategy_changed`
 * event, and leaves the cache and the feed alone; reads are served throughout.
 */
import type { ActiveStrategy, ReadPart } from '../api/active-strategy.js';
import type { BackendRegistry } from '../backends/backend-registry.js';
import type { Config } from '../config/schema.js';
import { InputError, NotFoundError, UnavailableError } from '../errors.js';
import type { GatewayModule } from '../gateway.js';
import type { ReadinessCheck } from '../http/health.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { StateStore } from '../store/state-store.js';
import type { StoredStrategy, StrategyStateStore } from '../store/strategy-state-store.js';
import { assignmentOf, configuredName, groupByStrategy, sameSet, type Assignment, type BackendAssignment } from './assignment.js';
import { optionsKey, type AnyStrategyDefinition } from './define-strategy.js';
import { STRATEGIES, STRATEGY_NAMES, strategyDefinition } from './registry.js';
import type { Scheduler } from './scheduler.js';
import type { PushHint, ReadTarget, Strategy } from './strategy.js';

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
  /** How often each replica re-reads the stored choices (the announcement is the fast path). @defaultValue 1000 */
  convergeCheckMs?: number;
}

/** What `GET /admin/strategy` shows. */
export interface StrategyState {
  name: string;
  since: string | null;
  by: string | null;
  running: string | null;
  available: string[];
  backends: (BackendAssignment & { running: string | null })[];
}

interface Running {
  strategy: Strategy;
  backends: Set<string>;
}

export class StrategyRuntime implements GatewayModule, ActiveStrategy {
  readonly name = 'strategies';
  private readonly running = new Map<string, Running>();
  private assignment: Assignment | undefined;
  private switching: Promise<void> = Promise.resolve();
  private unsubscribe: (() => Promise<void>) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastSeen = '';
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

  /** The default strategy's instance (it serves reads no backend owns). */
  current(): Strategy {
    const entry = this.assignment && this.running.get(this.assignment.defaultName);
    if (!entry) {
      throw new UnavailableError('the gateway is starting: no strategy runs yet (it waits for Redis); retry shortly', { retryAfterSeconds: 2 });
    }
    return entry.strategy;
  }

  /** The instance running for `backendId` (the default's for an unknown backend). */
  strategyFor(backendId: string): Strategy {
    const name = this.assignment?.backends.find((b) => b.backendId === backendId)?.strategy;
    return (name && this.running.get(name)?.strategy) || this.current();
  }

  /** The strategy assigned to `backendId` (null for a backend the config does not have). */
  assignedTo(backendId: string): string | null {
    return this.assignment?.backends.find((b) => b.backendId === backendId)?.strategy ?? null;
  }

  /** The strategies a read goes through: the owning backend's, or every one for reads across backends. */
  async forRead(target: ReadTarget): Promise<ReadPart[]> {
    // The strategies that run for some backend (the default alone when none does).
    const active = [...this.running].filter(([, r]) => r.backends.size > 0);
    if (active.length === 0) return [{ strategy: this.current(), backendIds: [] }];
    if (active.length === 1) return [{ strategy: active[0]![1].strategy, backendIds: [] }];
    const owner = await this.ownerOf(target);
    if (owner) return [{ strategy: this.strategyFor(owner), backendIds: [owner] }];
    return active.map(([, r]) => ({ strategy: r.strategy, backendIds: [...r.backends] }));
  }

  private async ownerOf(target: ReadTarget): Promise<string | null> {
    const { store } = this.deps;
    if (target.kind === 'instance') return (await store.getInstance(target.id))?.backend.id ?? null;
    const deploymentId = target.kind === 'deployment' ? target.id : target.kind === 'instances' ? target.deploymentId : undefined;
    return deploymentId === undefined ? null : ((await store.getDeployment(deploymentId))?.backendId ?? null);
  }

  /** Hands pushes to the strategy of the backend that sent them. */
  async onPush(hints: PushHint[]): Promise<void> {
    const byBackend = new Map<string, PushHint[]>();
    for (const hint of hints) byBackend.set(hint.backendId, [...(byBackend.get(hint.backendId) ?? []), hint]);
    await Promise.all([...byBackend].map(([backendId, group]) => this.strategyFor(backendId).onPush(group)));
  }

  /** Idempotent: it runs again when Redis went away halfway through it. */
  async start(): Promise<void> {
    this.deps.scheduler.start?.();
    await this.adoptConfig(this.deps.config());
    await this.converge();
    await this.removeForeignSchedules();
    this.unsubscribe ??= await this.deps.state.subscribe(() => this.enqueueConverge());
    let failing = false;
    this.timer ??= setInterval(() => {
      this.converge().then(
        () => (failing = false),
        (err: Error) => {
          // Once per outage, not once a second.
          if (!failing) this.log.warn('cannot read the stored strategies; keeping those running', { error: err.message });
          failing = true;
        },
      );
    }, this.deps.convergeCheckMs ?? 1_000);
    this.timer.unref();
  }

  /**
   * Schedules and due sets of strategies that no longer run anywhere (the config named others
   * while every replica was stopped) would tick forever with nobody to handle them: removed at
   * start. Every replica runs the stored assignment, so no live replica loses a schedule.
   */
  private async removeForeignSchedules(): Promise<void> {
    const running = [...this.running.keys()];
    const everyBackend = new Set(this.deps.config().backends.map((b) => b.id));
    for (const definition of STRATEGIES) {
      if (!running.includes(definition.name)) await this.create(definition, everyBackend).stop({ final: true });
    }
    // Whatever else is left (a schedule of a strategy this version does not know).
    const removed = await this.deps.scheduler.removeSchedulesExcept(running.map((name) => `${name}:`));
    if (removed.length > 0) this.log.info('removed schedules of strategies that no longer run', { running, removed });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.unsubscribe?.();
    await this.switching;
    for (const entry of this.running.values()) await entry.strategy.stop();
    await this.deps.scheduler.close?.();
  }

  /** Where the default strategy is recorded. */
  stored(): Promise<StoredStrategy> {
    return this.deps.state.get();
  }

  /**
   * Records what the config says wherever it differs from what it said when last recorded
   * (an operator edited it); otherwise recorded choices (PUT /admin/strategy) stand.
   * Backends first, so a first start appends no event.
   */
  private async adoptConfig(config: Config): Promise<void> {
    const stored = await this.deps.state.all();
    for (const backend of config.backends) {
      const name = configuredName(config, backend.id);
      const own = stored.backends.get(backend.id);
      if ((own?.configName ?? '') !== name || (name !== '' && !own?.name)) await this.record(backend.id, name, 'config', name);
    }
    for (const id of stored.backends.keys()) if (!config.backends.some((b) => b.id === id)) await this.deps.state.forget(id);
    if (!stored.defaults.name || stored.defaults.configName !== config.strategy.name) await this.record('', config.strategy.name, 'config', config.strategy.name);
  }

  /** Switches every replica: the default (no backendId) or one backend. Resolves once this replica runs it. */
  async switchTo(name: string, by: string, backendId?: string): Promise<{ changed: boolean; previous: string | null }> {
    const definition = strategyDefinition(name);
    const config = this.deps.config();
    let configName = config.strategy.name;
    if (backendId !== undefined) {
      const backend = config.backends.find((b) => b.id === backendId);
      if (!backend) {
        throw new NotFoundError(`no backend '${backendId}' is configured; use one of ${config.backends.map((b) => b.id).join(', ') || '(none)'}`);
      }
      if (!(definition.reads as readonly string[]).includes(backend.kind)) {
        throw new InputError(`strategy '${name}' cannot read backend '${backendId}'`, [
          { path: 'body.name', message: `'${name}' cannot read a ${backend.kind} backend (it reads ${definition.reads.join(', ')}); choose a strategy that reads ${backend.kind}` },
        ]);
      }
      configName = configuredName(config, backendId);
    }
    const { changed, previous } = await this.record(backendId ?? '', name, by, configName);
    await this.converge();
    return { changed, previous };
  }

  /** Records a choice; counts the gateway.strategy_changed event when one was appended. */
  private async record(scope: string, name: string, by: string, configName: string) {
    const result = await this.deps.state.record(scope, name, by, configName);
    if (result.appended) this.deps.metrics.feedAppends.inc({ type: 'gateway.strategy_changed' });
    return result;
  }

  /** What `GET /admin/strategy` shows. */
  async describe(): Promise<StrategyState> {
    const s = await this.stored();
    const assignment = assignmentOf(this.deps.config(), await this.deps.state.all());
    const runningFor = (backendId: string) => [...this.running].find(([, r]) => r.backends.has(backendId))?.[0] ?? null;
    return {
      name: s.name ?? this.deps.config().strategy.name,
      since: s.since ?? null,
      by: s.by ? (JSON.parse(s.by) as string) : null,
      running: this.assignment?.defaultName && this.running.has(this.assignment.defaultName) ? this.assignment.defaultName : null,
      available: [...STRATEGY_NAMES],
      backends: assignment.backends.map((b) => ({ ...b, running: runningFor(b.backendId) })),
    };
  }

  private enqueueConverge(): void {
    this.converge().catch((err: Error) => this.log.error('strategy switch failed', { error: err.message }));
  }

  /** Runs here what the store and config assign. Serialized. */
  private converge(): Promise<void> {
    this.switching = this.switching.then(async () => {
      let stored = await this.deps.state.all();
      // start() records the default strategy: without it Redis lost its data (restarted without
      // persistence, a failover to a replica that had not synced), schedules and due sets too.
      if (!stored.defaults.name && this.running.size > 0) {
        this.log.warn('Redis lost the stored strategies and their schedules; recording and starting them again');
        await this.adoptConfig(this.deps.config());
        stored = await this.deps.state.all();
        for (const entry of this.running.values()) await entry.strategy.stop();
        this.running.clear();
      }
      const assignment = assignmentOf(this.deps.config(), stored);
      const seen = JSON.stringify(assignment);
      if (seen === this.lastSeen && this.running.size > 0) return;
      await this.apply(groupByStrategy(assignment), assignment);
      this.lastSeen = seen;
    });
    return this.switching;
  }

  /** New and changed instances start first; then the old ones stop (and release what left them). */
  private async apply(target: Map<string, Set<string>>, assignment: Assignment): Promise<void> {
    const replaced: { old: Running; next: Running }[] = [];
    for (const [name, backends] of target) {
      const current = this.running.get(name);
      if (current && sameSet(current.backends, backends)) continue;
      const next = { strategy: this.create(strategyDefinition(name), backends), backends };
      await next.strategy.start();
      this.running.set(name, next);
      if (current) replaced.push({ old: current, next });
    }
    const previousDefault = this.assignment?.defaultName;
    this.assignment = assignment;
    for (const { old, next } of replaced) {
      await old.strategy.stop();
      for (const backendId of old.backends) if (!next.backends.has(backendId)) await next.strategy.release?.(backendId);
    }
    for (const [name, entry] of [...this.running]) {
      if (target.has(name)) continue;
      await entry.strategy.stop({ final: true });
      this.running.delete(name);
    }
    this.log.info('strategies running', {
      default: assignment.defaultName,
      previousDefault: previousDefault ?? null,
      backends: Object.fromEntries(assignment.backends.map((b) => [b.backendId, b.strategy])),
    });
  }

  /** An instance of `definition` for `backends` (those of a kind it can read). */
  private create(definition: AnyStrategyDefinition, backends: ReadonlySet<string>): Strategy {
    const key = optionsKey(definition.name);
    const options = (backendId?: string): Record<string, unknown> => {
      const config = this.deps.config();
      const own = backendId === undefined ? undefined : config.backends.find((b) => b.id === backendId)?.strategy;
      if (own?.name === definition.name && own.options) return own.options;
      return (config.strategy[key] ?? definition.options.parse({})) as Record<string, unknown>;
    };
    return definition.create({
      name: definition.name,
      options,
      staleAfterMs: (backendId) => definition.staleAfterMs(options(backendId)),
      store: this.deps.store,
      sources: this.deps.backends.catalog((id) => {
        const kind = this.deps.backends.clients.get(id)?.kind;
        return backends.has(id) && kind !== undefined && definition.reads.includes(kind);
      }),
      scheduler: this.deps.scheduler,
      logger: this.deps.logger,
      metrics: this.deps.metrics,
      now: this.deps.now,
      liveOwners: () => this.liveOwners(),
    });
  }

  /** Backends whose strategy reads their kind: their observations are live, so they own what they saw. */
  liveOwners(): string[] {
    return (this.assignment?.backends ?? [])
      .filter((b) => (strategyDefinition(b.strategy).reads as readonly string[]).includes(b.kind))
      .map((b) => b.backendId);
  }

  async configChanged(next: Config, previous: Config): Promise<void> {
    if (this.deps.backends.reconfigure(next.backends)) {
      // Restart so due sets and subscriptions follow the new backends.
      await (this.switching = this.switching.then(async () => {
        for (const entry of this.running.values()) {
          await entry.strategy.stop();
          await entry.strategy.start();
        }
      }));
    }
    if (JSON.stringify(next.strategy) !== JSON.stringify(previous.strategy) || JSON.stringify(next.backends) !== JSON.stringify(previous.backends)) {
      await this.adoptConfig(next);
      await this.converge();
    }
  }

  readiness(): ReadinessCheck[] {
    return this.deps.backends.readiness();
  }
}
