/**
 * `webhook` (push): the gateway subscribes its ingest URL with every backend that supports
 * subscriptions (a Zaqar-style `push.subscriptionUrl`), renews before the TTL runs out, and
 * treats each push as a hint: it refreshes the stack the push names (coalesced, so a burst of
 * pushes about one stack costs one refresh plus at most one more). A jittered resync of
 * everything (default every 10 minutes), and one right after every (re)subscription, cover
 * pushes that were lost.
 */
import { HeatClient } from '../src/backends/heat-client.js';
import { ZaqarClient } from '../src/backends/zaqar-client.js';
import type { HeatBackendConfig } from '../src/config/schema.js';
import { jittered, ScheduledStrategy } from '../src/strategy/scheduled-strategy.js';
import type { PushHint } from '../src/strategy/strategy.js';

/** After a failed push refresh or resync, the next resync comes this soon (at most). */
const RETRY_AFTER_FAILURE_MS = 5_000;

/** Due-set members: `resync:<backend>` and `subscribe:<backend>`. */
const RESYNC = 'resync:';
const SUBSCRIBE = 'subscribe:';

export class WebhookStrategy extends ScheduledStrategy {
  readonly name = 'webhook' as const;
  /** Per stack: the refresh in flight, and whether another push arrived meanwhile. */
  private readonly refreshing = new Map<string, { run: Promise<void>; again: boolean }>();

  protected strategyName() {
    return 'webhook';
  }

  private get opts() {
    return this.ctx.config().strategy.webhook;
  }

  protected tickMs(): number {
    return 1_000;
  }

  private dueSet() {
    return 'webhook';
  }

  protected dueSets(): string[] {
    return [this.dueSet()];
  }

  override staleAfterMs(): number {
    return 2 * this.opts.resyncIntervalMs;
  }

  private pushable(): { heat: HeatClient; push: NonNullable<HeatBackendConfig['push']> & { subscriptionUrl: string } }[] {
    return this.sync
      .heatClients()
      .filter((h) => h.config.push?.subscriptionUrl)
      .map((heat) => ({ heat, push: heat.config.push as NonNullable<HeatBackendConfig['push']> & { subscriptionUrl: string } }));
  }

  protected override async begin(): Promise<void> {
    this.handle('subscribe', (data) => this.subscribe(String(data.backend)));
    this.handle('resync', (data) => this.resync(String(data.backend)));
    const now = this.ctx.now();
    for (const heat of this.sync.heatClients()) {
      const pushable = Boolean(heat.config.push?.subscriptionUrl);
      // Subscribing ends with a resync; a backend without push gets its first resync now.
      await this.ctx.scheduler.setDue(this.dueSet(), `${pushable ? SUBSCRIBE : RESYNC}${heat.id}`, now, { onlyIfAbsent: true });
    }
    // A switch to webhook must not wait for the tick to subscribe: pushes start flowing now.
    await this.tick();
  }

  protected async tick(): Promise<void> {
    const taken = await this.ctx.scheduler.takeDue(this.dueSet(), this.ctx.now(), 1_000, 120_000);
    await this.dispatchAll(
      this.dueSet(),
      taken.flatMap((member) => {
        const suffix = member.startsWith(SUBSCRIBE) ? 'subscribe' : member.startsWith(RESYNC) ? 'resync' : undefined;
        if (!suffix) return [];
        const backend = member.slice((suffix === 'subscribe' ? SUBSCRIBE : RESYNC).length);
        return [{ member, suffix, data: { backend }, key: backend }];
      }),
    );
  }

  /** (Re)subscribes the ingest URL, schedules the renewal at half the TTL, then resyncs. */
  async subscribe(backendId: string): Promise<void> {
    const entry = this.pushable().find((p) => p.heat.id === backendId);
    if (!entry) return;
    const { heat, push } = entry;
    const ttlMs = push.subscriptionTtlMs;
    try {
      const options: Record<string, unknown> = {};
      if (push.signingSecret) options.secret = push.signingSecret;
      if (push.token) options.post_headers = { Authorization: `Bearer ${push.token}` };
      const id = await new ZaqarClient(heat).subscribe(push.subscriptionUrl, {
        subscriber: this.ctx.ingestUrl(backendId),
        ttlSeconds: Math.ceil(ttlMs / 1_000),
        options,
      });
      this.log.info('subscribed for pushes', { backend: backendId, subscription: id, ttlMs });
      await this.ctx.scheduler.setDue(this.dueSet(), `${SUBSCRIBE}${backendId}`, this.ctx.now() + ttlMs / 2);
    } catch (err) {
      // Try again soon; until then the resync is the only source.
      await this.ctx.scheduler.setDue(this.dueSet(), `${SUBSCRIBE}${backendId}`, this.ctx.now() + Math.min(30_000, ttlMs / 4));
      throw err;
    }
    // Pushes sent before the subscription existed are lost: resync now.
    await this.resync(backendId);
  }

  /** Everything one backend knows, then the next resync, jittered. */
  async resync(backendId: string): Promise<void> {
    const heat = this.sync.client(backendId);
    let ok = false;
    try {
      if (heat instanceof HeatClient) await this.sync.syncHeatBackend(heat);
      ok = true;
    } finally {
      if (!this.stopped) {
        const next = ok ? this.opts.resyncIntervalMs : Math.min(this.opts.resyncIntervalMs, RETRY_AFTER_FAILURE_MS);
        await this.ctx.scheduler.setDue(this.dueSet(), `${RESYNC}${backendId}`, this.ctx.now() + jittered(next, this.opts.jitter));
      }
    }
  }

  override async onPush(hints: PushHint[]): Promise<void> {
    const stacks = new Map<string, { backendId: string; stackId?: string; stackName?: string; instanceId?: string }>();
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
    const heat = this.sync.client(backendId);
    if (!(heat instanceof HeatClient)) return;
    if (!stackId) {
      // The push named nothing we know: the stack list finds new stacks.
      await this.sync.syncStackList(heat);
      return;
    }
    const name = stackName ?? (await this.ctx.store.getDeployment(stackId))?.name;
    await this.sync.syncDeployment(heat, name ? { name, id: stackId } : stackId);
  }
}
