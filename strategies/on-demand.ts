/**
 * `on-demand`: every Conductor read asks the backend, writes the answer to the cache and is
 * then served from it. Identical reads in flight share one backend call; list reads use list
 * calls (never one call per instance); a read waits at most `readDeadlineMs`, then the cache
 * is served marked stale (the fetch still completes and lands in the cache).
 */
import { DeltacloudClient } from '../src/backends/deltacloud-client.js';
import { HeatClient } from '../src/backends/heat-client.js';
import { BackendSync } from '../src/strategy/backend-sync.js';
import { BaseStrategy, type ReadFreshness, type ReadTarget, type StrategyContext } from '../src/strategy/strategy.js';

export class OnDemandStrategy extends BaseStrategy {
  readonly name = 'on-demand' as const;
  private readonly sync: BackendSync;
  /** In-flight fetches by target: a burst of UI refreshes costs one backend call. */
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(ctx: StrategyContext) {
    super(ctx);
    this.sync = new BackendSync(ctx, 'on-demand');
  }

  override async beforeRead(target: ReadTarget): Promise<ReadFreshness> {
    const key = JSON.stringify(target);
    let fetch = this.inflight.get(key);
    if (!fetch) {
      fetch = this.fetch(target).finally(() => this.inflight.delete(key));
      this.inflight.set(key, fetch);
    }
    const deadlineMs = this.ctx.config().strategy.onDemand.readDeadlineMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        fetch,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`backend did not answer within ${deadlineMs} ms (strategy.onDemand.readDeadlineMs)`)), deadlineMs);
        }),
      ]);
      return { failed: false };
    } catch (err) {
      fetch.catch(() => {}); // still running or failed; its outcome is logged below once
      return { failed: true, reason: (err as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }

  private async fetch(target: ReadTarget): Promise<void> {
    try {
      await this.fetchTarget(target);
    } catch (err) {
      this.log.warn('on-demand fetch failed', { target, error: (err as Error).message });
      throw err;
    }
  }

  private async fetchTarget(target: ReadTarget): Promise<void> {
    switch (target.kind) {
      case 'deployments':
        await Promise.all(this.sync.heatClients().map((h) => this.sync.syncStackList(h)));
        return;
      case 'instances':
        if (target.deploymentId !== undefined) return this.fetchDeployment(target.deploymentId);
        await this.fetchEverything();
        return;
      case 'deployment':
        return this.fetchDeployment(target.id);
      case 'instance': {
        const known = await this.ctx.store.getInstance(target.id);
        const client = known ? this.sync.client(known.backend.id) : undefined;
        if (client instanceof DeltacloudClient) return this.sync.syncDeltacloudInstance(client, target.id);
        if (client instanceof HeatClient && known) return this.fetchDeployment(known.deploymentId, false);
        // Not cached yet: only a full listing can find it.
        await this.fetchEverything();
      }
    }
  }

  /** One deployment: shown and its servers listed (two calls); unknown → the stack lists. */
  private async fetchDeployment(id: string, show = true): Promise<void> {
    const known = await this.ctx.store.getDeployment(id);
    const client = known ? this.sync.client(known.backendId) : undefined;
    if (client instanceof DeltacloudClient) {
      await this.sync.syncDeltacloud(client);
      return;
    }
    if (client instanceof HeatClient && known) {
      if (show) await this.sync.syncDeployment(client, { name: known.name, id });
      else await this.sync.syncStack(client, { name: known.name, id }, known.status);
      return;
    }
    for (const heat of this.sync.heatClients()) {
      const stack = (await this.sync.syncStackList(heat)).find((s) => s.id === id || s.stack_name === id);
      if (stack) {
        await this.sync.syncStack(heat, { name: stack.stack_name, id: stack.id }, stack.stack_status);
        return;
      }
    }
  }

  /**
   * Everything, with list calls only: the Heat backends, or the Deltacloud ones when no Heat
   * is configured (one source per instance, so two views of one server never alternate).
   */
  private async fetchEverything(): Promise<void> {
    const heat = this.sync.heatClients();
    if (heat.length > 0) await Promise.all(heat.map((h) => this.sync.syncHeatBackend(h)));
    else await Promise.all(this.sync.deltacloudClients().map((d) => this.sync.syncDeltacloud(d)));
  }
}
