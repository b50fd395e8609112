/**
 * The backend reads every strategy is made of: list a Heat backend's stacks, list one stack's
 * servers, list a Deltacloud backend's instances. Each writes what it saw through the store
 * (the one write path) and reports complete listings so vanished things are detected.
 */
import { DeltacloudClient, type DeltacloudInstanceObservation } from '../backends/deltacloud-client.js';
import { HeatClient, stackIdOf, toDeploymentObservation, type HeatStack, type StackIdentity, type StackRef } from '../backends/heat-client.js';
import type { BackendClient } from '../backends/create-backend-clients.js';
import { isInProgress, TRANSITIONAL_STATES } from '../model/states.js';
import { UNASSIGNED_DEPLOYMENT, type Deployment, type InstanceObservation } from '../model/types.js';
import { UpstreamError } from '../errors.js';
import type { RefreshScope } from '../store/refresh-health.js';
import type { StrategyContext } from './strategy.js';

export interface StackSyncResult {
  stack: StackRef;
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

export class BackendSync {
  constructor(
    private readonly ctx: StrategyContext,
    private readonly source: string,
  ) {}

  heatClients(): HeatClient[] {
    return [...this.ctx.backends().values()].filter((c): c is HeatClient => c instanceof HeatClient);
  }

  deltacloudClients(): DeltacloudClient[] {
    return [...this.ctx.backends().values()].filter((c): c is DeltacloudClient => c instanceof DeltacloudClient);
  }

  client(backendId: string): BackendClient | undefined {
    return this.ctx.backends().get(backendId);
  }

  private record(backend: string, outcome: 'ok' | 'error') {
    this.ctx.metrics.pollRuns.inc({ strategy: this.source, backend, outcome });
  }

  /**
   * Runs one backend call; a failure is counted as an `error` run and, when it refreshes a
   * scope, recorded as that scope's last attempt (reads of it turn stale at once) before it
   * propagates. A 404 is an answer, not a failure.
   */
  private async call<T>(backend: string, scope: RefreshScope | undefined, fetch: () => Promise<T>): Promise<T> {
    try {
      return await fetch();
    } catch (err) {
      this.record(backend, 'error');
      if (scope && !(err instanceof UpstreamError && err.upstreamStatus === 404)) {
        // Redis may be away too; the failure is then moot (reads answer 503).
        await this.ctx.store.refreshHealth.failed(scope, this.source, (err as Error).message).catch(() => undefined);
      }
      throw err;
    }
  }

  /** The scope was refreshed: reads of it are no longer stale for a failure. */
  private refreshed(scope: RefreshScope): Promise<void> {
    return this.ctx.store.refreshHealth.succeeded(scope);
  }

  private countOutcomes(results: { outcome: string }[]) {
    for (const r of results) this.ctx.metrics.observations.inc({ source: this.source, outcome: r.outcome });
  }

  /** Lists every stack of a Heat backend and observes them; a complete listing. */
  async syncStackList(heat: HeatClient): Promise<HeatStack[]> {
    const observedAtMs = this.ctx.now();
    const stacks = await this.call(heat.id, { backendId: heat.id }, () => heat.listStacks());
    const ctx = { source: this.source, observedAtMs };
    this.countOutcomes(await this.ctx.store.observeDeployments(stacks.map((s) => toDeploymentObservation(s, heat.id)), ctx));
    const { missedOnce } = await this.ctx.store.completeDeploymentListing(heat.id, stacks.map((s) => s.id), ctx);
    // A stack that just left the list is shown once: Heat says at once whether it was deleted.
    for (const id of missedOnce) {
      const known = await this.ctx.store.getDeployment(id);
      await this.syncDeployment(heat, known ? { name: known.name, id } : id).catch((err: Error) =>
        this.ctx.logger.debug('could not confirm a missing stack; the next listing will', { backend: heat.id, stack: id, error: err.message }),
      );
    }
    await this.refreshed({ backendId: heat.id });
    this.record(heat.id, 'ok');
    return stacks;
  }

  /** One resource list (with details) of one stack; a complete listing of its servers. */
  async syncStack(heat: HeatClient, stack: StackRef, stackStatus?: string | null): Promise<StackSyncResult> {
    const observedAtMs = this.ctx.now();
    const instances = await this.call(heat.id, { deploymentId: stack.id }, () => heat.listServers(stack));
    const ctx = { source: this.source, observedAtMs };
    this.countOutcomes(await this.ctx.store.observeInstances(instances, ctx));
    await this.ctx.store.completeInstanceListing({ deploymentId: stack.id }, instances.map((i) => i.id), ctx);
    await this.refreshed({ deploymentId: stack.id });
    this.record(heat.id, 'ok');
    return {
      stack,
      instances,
      transitional: isInProgress(stackStatus) || instances.some((i) => TRANSITIONAL_STATES.has(i.state)),
    };
  }

  /**
   * Shows one stack (status, outputs) and lists its servers: everything about one deployment.
   * A bare stack id works too (Heat redirects it to name/id).
   */
  async syncDeployment(heat: HeatClient, stack: StackIdentity): Promise<StackSyncResult | null> {
    const observedAtMs = this.ctx.now();
    const shown = await this.call(heat.id, { deploymentId: stackIdOf(stack) }, () => heat.getStack(stack));
    if (!shown) {
      // Heat does not know the stack any more: it and its servers are gone.
      const id = stackIdOf(stack);
      const ctx = { source: this.source, observedAtMs };
      await this.ctx.store.deleteDeployments([id], 'Heat no longer knows this stack', ctx);
      await this.ctx.store.vanishInstances(await this.ctx.store.instanceIdsOf(id), ctx);
      await this.refreshed({ deploymentId: id });
      return null;
    }
    const ctx = { source: this.source, observedAtMs };
    this.countOutcomes([await this.ctx.store.observeDeployment(toDeploymentObservation(shown, heat.id), ctx)]);
    if (shown.stack_status === 'DELETE_COMPLETE') {
      // Heat says the stack is gone, so its servers are: no need to wait for two listings.
      await this.ctx.store.vanishInstances(await this.ctx.store.instanceIdsOf(shown.id), ctx);
      await this.refreshed({ deploymentId: shown.id });
      return { stack: { name: shown.stack_name, id: shown.id }, instances: [], transitional: false };
    }
    return this.syncStack(heat, { name: shown.stack_name, id: shown.id }, shown.stack_status);
  }

  /** Everything a Heat backend knows: the stack list, then every live stack's servers. */
  async syncHeatBackend(heat: HeatClient, concurrency = 4): Promise<StackSyncResult[]> {
    const stacks = await this.syncStackList(heat);
    const live = stacks.filter((s) => s.stack_status !== 'DELETE_COMPLETE');
    return mapLimit(live, concurrency, (s) => this.syncStack(heat, { name: s.stack_name, id: s.id }, s.stack_status));
  }

  /** One GET /api/instances; deployments attributed from the cache, the name pattern, or `unassigned`. */
  async syncDeltacloud(dc: DeltacloudClient): Promise<InstanceObservation[]> {
    const observedAtMs = this.ctx.now();
    const listed = await this.call(dc.id, { backendId: dc.id }, () => dc.listInstances());
    const observations = await this.attribute(listed);
    const ctx = { source: this.source, observedAtMs };
    if (observations.some((o) => o.deploymentId === UNASSIGNED_DEPLOYMENT)) {
      await this.ctx.store.observeDeployment(
        { id: UNASSIGNED_DEPLOYMENT, name: 'Instances not attributed to a Heat stack', status: null, statusReason: null, outputs: [], backendId: dc.id, updatedAt: null },
        ctx,
      );
    }
    this.countOutcomes(await this.ctx.store.observeInstances(observations, ctx));
    await this.ctx.store.completeInstanceListing({ backendId: dc.id }, observations.map((o) => o.id), ctx);
    await this.refreshed({ backendId: dc.id });
    this.record(dc.id, 'ok');
    return observations;
  }

  /** Refreshes one Deltacloud instance (on-demand reads of a single instance). */
  async syncDeltacloudInstance(dc: DeltacloudClient, id: string): Promise<void> {
    const observedAtMs = this.ctx.now();
    const found = await dc.getInstance(id);
    if (!found) return;
    const [observation] = await this.attribute([found]);
    this.countOutcomes(await this.ctx.store.observeInstances([observation!], { source: this.source, observedAtMs }));
  }

  private async attribute(listed: DeltacloudInstanceObservation[]): Promise<InstanceObservation[]> {
    const known = await this.ctx.store.getInstances(listed.map((i) => i.id));
    const pattern = this.ctx.config().strategy.deltacloudPoll.namePattern;
    const regex = pattern ? new RegExp(pattern) : undefined;
    let byName: Map<string, string> | undefined;
    const out: InstanceObservation[] = [];
    for (const [i, inst] of listed.entries()) {
      let deploymentId = known[i]?.deploymentId;
      if (!deploymentId || deploymentId === UNASSIGNED_DEPLOYMENT) {
        deploymentId = UNASSIGNED_DEPLOYMENT;
        const captured = regex?.exec(inst.raw.name ?? inst.name)?.groups?.deployment;
        if (captured) {
          byName ??= await this.deploymentNames();
          deploymentId = byName.get(captured) ?? UNASSIGNED_DEPLOYMENT;
        }
      }
      const { raw: _raw, ...rest } = inst;
      out.push({ ...rest, deploymentId });
    }
    return out;
  }

  /** Deployment name or id → id, from the cache. */
  private async deploymentNames(): Promise<Map<string, string>> {
    const map = new Map<string, string>();
    let cursor: string | undefined;
    do {
      const page = await this.ctx.store.listDeploymentsJson({ limit: 1_000, ...(cursor ? { cursor } : {}) });
      for (const json of page.items) {
        const d = JSON.parse(json) as Deployment;
        map.set(d.id, d.id);
        if (!map.has(d.name)) map.set(d.name, d.id);
      }
      cursor = page.next ?? undefined;
    } while (cursor);
    return map;
  }
}
