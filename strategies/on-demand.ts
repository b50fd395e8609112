/**
 * `on-demand`: every Conductor read asks the backend, writes the answer to the cache and is
 * then served from it. Identical reads in flight share one backend call; list reads use list
 * calls (never one call per instance); a read waits at most `readDeadlineMs`, then the cache
 * is served marked stale (the fetch still completes and lands in the cache).
 */
import { z } from 'zod';
import { durationMs, MINUTE } from '../src/config/zod-helpers.js';
import { isDeploymentSource, type InstanceSource } from '../src/sources/instance-source.js';
import { SourceSync } from '../src/sources/source-sync.js';
import { defineStrategy } from '../src/strategy/define-strategy.js';
import { BaseStrategy, type ReadFreshness, type ReadTarget, type StrategyContext } from '../src/strategy/strategy.js';

const options = z
  .object({
    readDeadlineMs: durationMs(50, MINUTE).default(5_000).describe('Longest a read waits for the backend before serving the cache.'),
  })
  .strict();
type Options = z.output<typeof options>;

class OnDemand extends BaseStrategy<Options> {
  private readonly sync: SourceSync;
  /** In-flight fetches by target: a burst of UI refreshes costs one backend call. */
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(ctx: StrategyContext<Options>) {
    super(ctx);
    this.sync = new SourceSync(ctx, ctx.name);
  }

  override async beforeRead(target: ReadTarget): Promise<ReadFreshness> {
    const key = JSON.stringify(target);
    let fetch = this.inflight.get(key);
    if (!fetch) {
      fetch = this.fetch(target).finally(() => this.inflight.delete(key));
      this.inflight.set(key, fetch);
    }
    const deadlineMs = this.options.readDeadlineMs;
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
        await Promise.all(this.ctx.sources.deployments().map((source) => this.sync.syncDeploymentList(source)));
        return;
      case 'instances':
        if (target.deploymentId !== undefined) return this.fetchDeployment(target.deploymentId);
        await this.fetchEverything();
        return;
      case 'deployment':
        return this.fetchDeployment(target.id);
      case 'instance': {
        const known = await this.ctx.store.getInstance(target.id);
        const source = known ? this.ctx.sources.get(known.backend.id) : undefined;
        if (known && source) {
          const deployment = await this.ctx.store.getDeployment(known.deploymentId);
          await this.sync.syncInstance(source, target.id, { deploymentId: known.deploymentId, ...(deployment ? { deploymentName: deployment.name } : {}) });
          return;
        }
        // Not cached yet: only a full listing can find it.
        await this.fetchEverything();
      }
    }
  }

  /** One deployment: shown and its servers listed (two calls); unknown → the stack lists. */
  private async fetchDeployment(id: string): Promise<void> {
    const known = await this.ctx.store.getDeployment(id);
    const source = known ? this.ctx.sources.get(known.backendId) : undefined;
    if (known && source) {
      await this.sync.syncScope(source, { deploymentId: id, name: known.name });
      return;
    }
    for (const heat of this.ctx.sources.deployments()) {
      const stack = (await this.sync.syncDeploymentList(heat)).find((s) => s.ref.id === id || s.ref.name === id);
      if (stack) {
        await this.sync.syncDeploymentInstances(heat, stack.ref, stack.status);
        return;
      }
    }
  }

  /**
   * Everything, with list calls only: the backends with deployments (Heat), or the others
   * when none is configured (one source per instance, so two views of one server never
   * alternate).
   */
  private async fetchEverything(): Promise<void> {
    const all = this.ctx.sources.instances();
    const withDeployments = all.filter(isDeploymentSource);
    const chosen: InstanceSource[] = withDeployments.length > 0 ? withDeployments : all;
    await Promise.all(chosen.map((source) => this.sync.syncEverything(source)));
  }
}

export default defineStrategy({
  name: 'on-demand',
  summary: 'every read asks the backend first (coalesced, with a deadline); nothing runs in the background',
  options,
  jobs: {},
  reads: ['heat', 'deltacloud'],
  // Every read refreshes first: what is served is as fresh as the read itself.
  staleAfterMs: () => Number.POSITIVE_INFINITY,
  conformance: { kind: 'on-read' },
  create: (ctx) => new OnDemand(ctx),
});
