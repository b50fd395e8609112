/**
 * The reads strategies are made of, over sources: list a backend's deployments (and confirm
 * the ones that just left the list), list one deployment's instances, show one deployment,
 * read everything a backend knows, refresh one instance. Each applies what it read with
 * {@link applyListing} and counts the outcome per strategy and backend.
 */
import { stackIdOf } from '../backends/heat-client.js';
import { UpstreamError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { isInProgress, TRANSITIONAL_STATES } from '../model/states.js';
import type { InstanceObservation } from '../model/types.js';
import type { RefreshScope } from '../store/refresh-health.js';
import type { StateStore } from '../store/state-store.js';
import { applyListing, type AppliedListing } from './apply-listing.js';
import { isDeploymentSource, type DeploymentSource, type InstanceSource, type Listing, type ReadOptions, type SourceScope, type StackSummary } from './instance-source.js';

export interface StackSyncResult {
  stack: StackSummary['ref'];
  instances: InstanceObservation[];
  /** Anything still moving (stack in progress, an instance pending or shutting down). */
  transitional: boolean;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

export interface SourceSyncDeps {
  store: StateStore;
  metrics: Metrics;
  logger: Logger;
  now: () => number;
  /** Backends some running strategy reads: an instance they own ignores other backends (ownership). */
  liveOwners?: () => readonly string[];
}

export class SourceSync {
  constructor(
    private readonly deps: SourceSyncDeps,
    /** The strategy reading (served as `source`, and the metrics label). */
    private readonly strategy: string,
  ) {}

  private record(backend: string, outcome: 'ok' | 'error') {
    this.deps.metrics.pollRuns.inc({ strategy: this.strategy, backend, outcome });
  }

  /**
   * Runs one backend read; a failure is counted as an `error` run and, when it refreshes a
   * scope, recorded as that scope's last attempt (reads of it turn stale at once) before it
   * propagates. A 404 is an answer, not a failure.
   */
  private async read<T>(backend: string, scope: RefreshScope | undefined, fetch: () => Promise<T>, storeFailed?: (err: unknown) => boolean): Promise<T> {
    try {
      return await fetch();
    } catch (err) {
      // A streamed read writes as it goes: the store failing is not the backend failing.
      if (storeFailed?.(err)) throw err;
      this.record(backend, 'error');
      if (scope && !(err instanceof UpstreamError && err.upstreamStatus === 404)) {
        // Redis may be away too; the failure is then moot (reads answer 503).
        await this.deps.store.refreshHealth.failed(scope, this.strategy, (err as Error).message).catch(() => undefined);
      }
      throw err;
    }
  }

  /** The scope was refreshed: reads of it are no longer stale for a failure. */
  private refreshed(scope: RefreshScope): Promise<void> {
    return this.deps.store.refreshHealth.succeeded(scope);
  }

  private async apply(listing: Listing, observedAtMs: number): Promise<AppliedListing> {
    const liveOwners = this.deps.liveOwners?.();
    const applied = await applyListing(this.deps.store, listing, { source: this.strategy, observedAtMs, ...(liveOwners ? { liveOwners } : {}) });
    for (const r of applied.results) {
      this.deps.metrics.observations.inc({ source: this.strategy, outcome: r.outcome });
      if (r.owner) this.deps.metrics.ownershipIgnored.inc({ backend: listing.backendId, owner: r.owner });
    }
    return applied;
  }

  /** Lists every deployment of a backend; one that just left the list is shown once. */
  async syncDeploymentList(source: DeploymentSource): Promise<StackSummary[]> {
    const observedAtMs = this.deps.now();
    const { listing, stacks } = await this.read(source.backendId, { backendId: source.backendId }, () => source.listDeployments());
    const { missedOnce } = await this.apply(listing, observedAtMs);
    // A stack that just left the list is shown once: Heat says at once whether it was deleted.
    for (const id of missedOnce) {
      const known = await this.deps.store.getDeployment(id);
      await this.syncDeployment(source, known ? { name: known.name, id } : id).catch((err: Error) =>
        this.deps.logger.debug('could not confirm a missing stack; the next listing will', { backend: source.backendId, stack: id, error: err.message }),
      );
    }
    await this.refreshed({ backendId: source.backendId });
    this.record(source.backendId, 'ok');
    return stacks;
  }

  /** One deployment's instances (a full listing of it). */
  async syncDeploymentInstances(source: DeploymentSource, stack: StackSummary['ref'], status?: string | null): Promise<StackSyncResult> {
    const observedAtMs = this.deps.now();
    const listing = await this.read(source.backendId, { deploymentId: stack.id }, () => source.listDeploymentInstances(stack));
    await this.apply(listing, observedAtMs);
    await this.refreshed({ deploymentId: stack.id });
    this.record(source.backendId, 'ok');
    const instances = listing.instances ?? [];
    return { stack, instances, transitional: isInProgress(status) || instances.some((i) => TRANSITIONAL_STATES.has(i.state)) };
  }

  /** Shows one deployment and lists its instances; null when the backend no longer knows it. */
  async syncDeployment(source: DeploymentSource, stack: StackSummary['ref'] | string): Promise<StackSyncResult | null> {
    const observedAtMs = this.deps.now();
    const scope = { deploymentId: typeof stack === 'string' ? stackIdOf(stack) : stack.id };
    const { listing, stack: shown } = await this.read(source.backendId, scope, () => source.showDeployment(stack));
    await this.apply(listing, observedAtMs);
    if (!shown) {
      await this.refreshed(scope);
      return null;
    }
    if (listing.instancesGoneOf) {
      await this.refreshed({ deploymentId: shown.ref.id });
      return { stack: shown.ref, instances: [], transitional: false };
    }
    return this.syncDeploymentInstances(source, shown.ref, shown.status);
  }

  /** Everything a backend knows, with list calls only. */
  async syncEverything(source: InstanceSource, options: ReadOptions = {}, concurrency = 4): Promise<void> {
    if (isDeploymentSource(source)) {
      const stacks = await this.syncDeploymentList(source);
      const live = stacks.filter((s) => s.status !== 'DELETE_COMPLETE');
      // Each stack's result is dropped once applied: kept (mapLimit's array) they would hold
      // every instance of the backend until the last stack is read.
      await mapLimit(live, concurrency, async (s) => void (await this.syncDeploymentInstances(source, s.ref, s.status)));
      return;
    }
    await this.syncScope(source, { all: true }, options);
  }

  /** Reads one scope of a source and applies what it proves. */
  async syncScope(source: InstanceSource, scope: SourceScope, options: ReadOptions = {}): Promise<void> {
    const observedAtMs = this.deps.now();
    // A Deltacloud read is always the whole backend's listing, whatever the scope asked.
    const refreshScope: RefreshScope = 'deploymentId' in scope && source.kind !== 'deltacloud' ? { deploymentId: scope.deploymentId } : { backendId: source.backendId };
    if (source.streamList) {
      // Written chunk by chunk as it streams; `complete` (and so any miss) comes last, once
      // the whole read succeeded. Every chunk is observed at the time the read started.
      const failedWrites = new WeakSet<object>();
      const apply = (listing: Listing) =>
        this.apply(listing, observedAtMs).then(
          () => undefined,
          (err: unknown) => {
            if (typeof err === 'object' && err !== null) failedWrites.add(err);
            throw err;
          },
        );
      await this.read(source.backendId, refreshScope, () => source.streamList!(scope, options, apply), (err) => typeof err === 'object' && err !== null && failedWrites.has(err));
    } else {
      const listings = await this.read(source.backendId, refreshScope, () => source.list(scope, options));
      for (const listing of listings) await this.apply(listing, observedAtMs);
    }
    await this.refreshed(refreshScope);
    this.record(source.backendId, 'ok');
  }

  /** Refreshes one instance the cache knows (or tries to find it). */
  async syncInstance(source: InstanceSource, instanceId: string, known: { deploymentId: string; deploymentName?: string } | null, options: ReadOptions = {}): Promise<void> {
    const observedAtMs = this.deps.now();
    const listings = await this.read(source.backendId, undefined, () => source.show(instanceId, known, options));
    for (const listing of listings ?? []) await this.apply(listing, observedAtMs);
    if (listings) this.record(source.backendId, 'ok');
  }
}
