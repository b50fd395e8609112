/**
 * `webhook` (push): the gateway subscribes its ingest URL with every backend that supports
 * subscriptions (a Zaqar-style `push.subscriptionUrl`), renews before the TTL runs out, and
 * treats each push as a hint: it refreshes the stack the push names (coalesced, so a burst of
 * pushes about one stack costs one refresh plus at most one more). A jittered resync of
 * everything (default every 10 minutes), and one right after every (re)subscription, cover
 * pushes that were lost.
 */
import { z } from 'zod';
import { DAY, durationMs, fraction, SECOND } from '../src/config/zod-helpers.js';
import { defineStrategy } from '../src/strategy/define-strategy.js';
import { jittered, ScheduledStrategy } from '../src/strategy/scheduled-strategy.js';
import type { PushHint, StrategyContext } from '../src/strategy/strategy.js';

const options = z
  .object({
    resyncIntervalMs: durationMs(SECOND, DAY).default(600_000).describe('Safety-net full resync of each backend.'),
    jitter: fraction.default(0.1).describe('± fraction of the resync interval.'),
  })
  .strict();
type Options = z.output<typeof options>;

const jobs = {
  subscribe: z.object({ backend: z.string() }),
  resync: z.object({ backend: z.string() }),
};

/** After a failed push refresh or resync, the next resync comes this soon (at most). */
const RETRY_AFTER_FAILURE_MS = 5_000;
const TICK_MS = 1_000;

/** Due-set members: `resync:<backend>` and `subscribe:<backend>`. */
const RESYNC = 'resync:';
const SUBSCRIBE = 'subscribe:';

class Webhook extends ScheduledStrategy<Options, typeof jobs> {
  /** Pushes are its source: a notification's state is stored as it is (see src/push). */
  readonly trustsPushes = true;
  /** Per stack: the refresh in flight, and whether another push arrived meanwhile. */
  private readonly refreshing = new Map<string, { run: Promise<void>; again: boolean }>();

  constructor(ctx: StrategyContext<Options>) {
    super(ctx, jobs);
  }

  protected tickMs(): number {
    return TICK_MS;
  }

  protected dueSets(): string[] {
    return [this.dueSet()];
  }

  protected dueOf(backendId: string) {
    return [{ set: this.dueSet(), members: [`${RESYNC}${backendId}`, `${SUBSCRIBE}${backendId}`] }];
  }

  protected override async begin(): Promise<void> {
    this.handle('subscribe', ({ backend }) => this.subscribe(backend));
    this.handle('resync', ({ backend }) => this.resync(backend));
    const now = this.ctx.now();
    const pushable = new Set(this.ctx.sources.pushSubscriptions().map((p) => p.backendId));
    for (const heat of this.ctx.sources.deployments()) {
      // Subscribing ends with a resync; a backend without push gets its first resync now.
      await this.ctx.scheduler.setDue(this.dueSet(), `${pushable.has(heat.backendId) ? SUBSCRIBE : RESYNC}${heat.backendId}`, now, { onlyIfAbsent: true });
    }
    // A switch to webhook must not wait for the tick to subscribe: pushes start flowing now.
    await this.tick();
  }

  protected async tick(): Promise<void> {
    const due = await this.ctx.scheduler.takeDue(this.dueSet(), this.ctx.now(), { limit: 1_000, leaseMs: 120_000 });
    await this.dispatchAll(this.dueSet(), [
      ...due.filter((m) => m.startsWith(SUBSCRIBE)).map((member) => ({ member, job: 'subscribe' as const, data: { backend: member.slice(SUBSCRIBE.length) }, key: member.slice(SUBSCRIBE.length) })),
      ...due.filter((m) => m.startsWith(RESYNC)).map((member) => ({ member, job: 'resync' as const, data: { backend: member.slice(RESYNC.length) }, key: member.slice(RESYNC.length) })),
    ]);
  }

  /** (Re)subscribes the ingest URL, schedules the renewal at half the TTL, then resyncs. */
  async subscribe(backendId: string): Promise<void> {
    const subscription = this.ctx.sources.pushSubscriptions().find((p) => p.backendId === backendId);
    if (!subscription) return;
    try {
      const id = await subscription.subscribe();
      this.log.info('subscribed for pushes', { backend: backendId, subscription: id, ttlMs: subscription.ttlMs });
      await this.ctx.scheduler.setDue(this.dueSet(), `${SUBSCRIBE}${backendId}`, this.ctx.now() + subscription.ttlMs / 2);
    } catch (err) {
      // Try again soon; until then the resync is the only source.
      await this.ctx.scheduler.setDue(this.dueSet(), `${SUBSCRIBE}${backendId}`, this.ctx.now() + Math.min(30_000, subscription.ttlMs / 4));
      throw err;
    }
    // Pushes sent before the subscription existed are lost: resync now.
    await this.resync(backendId);
  }

  /** Everything one backend knows, then the next resync, jittered. */
  async resync(backendId: string): Promise<void> {
    const source = this.ctx.sources.get(backendId);
    let ok = false;
    try {
      if (source) await this.sync.syncEverything(source);
      ok = true;
    } finally {
      if (!this.stopped) {
        const { resyncIntervalMs, jitter } = this.optionsFor(backendId);
        const next = ok ? resyncIntervalMs : Math.min(resyncIntervalMs, RETRY_AFTER_FAILURE_MS);
        await this.ctx.scheduler.setDue(this.dueSet(), `${RESYNC}${backendId}`, this.ctx.now() + jittered(next, jitter));
      }
    }
  }

  override async onPush(hints: PushHint[]): Promise<void> {
    const stacks = new Map<string, { backendId: string; stackId?: string; stackName?: string }>();
    for (const hint of hints) {
      let stackId = hint.stackId;
      if (!stackId && hint.instanceId) stackId = (await this.ctx.store.getInstance(hint.instanceId))?.deploymentId;
      stacks.set(`${hint.backendId}/${stackId ?? '?'}`, { ...hint, ...(stackId ? { stackId } : {}) });
    }
    await Promise.all([...stacks.values()].map((s) => this.refresh(s.backendId, s.stackId, s.stackName)));
  }

  /** Refreshes one stack; pushes arriving during a refresh cause exactly one more. */
  private refresh(backendId: string, stackId: string | undefined, stackName: string | undefined): Promise<void> {
    const key = `${backendId}/${stackId ?? '?'}`;
    const current = this.refreshing.get(key);
    if (current) {
      current.again = true;
      return current.run;
    }
    const entry = { run: Promise.resolve(), again: false };
    entry.run = (async () => {
      try {
        do {
          entry.again = false;
          await this.refreshOnce(backendId, stackId, stackName).catch(async (err: Error) => {
            // The change this push announced is not in the cache: resync soon, not in 10 minutes.
            this.log.warn('push refresh failed; resyncing soon', { backend: backendId, stack: stackId, error: err.message });
            await this.ctx.scheduler.setDue(this.dueSet(), `${RESYNC}${backendId}`, this.ctx.now() + RETRY_AFTER_FAILURE_MS, { onlyIfEarlier: true });
          });
        } while (entry.again && !this.stopped);
      } finally {
        this.refreshing.delete(key);
      }
    })();
    this.refreshing.set(key, entry);
    return entry.run;
  }

  private async refreshOnce(backendId: string, stackId: string | undefined, stackName: string | undefined): Promise<void> {
    const heat = this.ctx.sources.deployments().find((s) => s.backendId === backendId);
    if (!heat) return;
    if (!stackId) {
      // The push named nothing we know: the stack list finds new stacks.
      await this.sync.syncDeploymentList(heat);
      return;
    }
    const name = stackName ?? (await this.ctx.store.getDeployment(stackId))?.name;
    await this.sync.syncDeployment(heat, name ? { name, id: stackId } : stackId);
  }
}

export default defineStrategy({
  name: 'webhook',
  summary: 'subscribes to backend pushes and refreshes what each push names; a periodic resync covers lost pushes',
  options,
  jobs,
  reads: ['heat'],
  staleAfterMs: (o) => 2 * o.resyncIntervalMs,
  conformance: {
    kind: 'within',
    // Pushes are handled as they arrive: no scheduler time needs to pass.
    changeMs: () => 0,
    deletionMs: () => 0,
    // A push whose refresh failed brings the resync forward, then one tick.
    recoveryMs: (o) => RETRY_AFTER_FAILURE_MS * (1 + o.jitter) + TICK_MS,
  },
  create: (ctx) => new Webhook(ctx),
});
