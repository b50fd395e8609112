/**
 * `deltacloud-poll`: one `GET /api/instances` per Deltacloud backend per interval; never calls
 * Heat. Instances are attached to deployments through what the cache already knows (learned
 * from Heat earlier) or `strategy.deltacloudPoll.namePattern`; the rest go under `unassigned`.
 */
import { DeltacloudClient } from '../src/backends/deltacloud-client.js';
import { jittered, ScheduledStrategy } from '../src/strategy/scheduled-strategy.js';

export class DeltacloudPollStrategy extends ScheduledStrategy {
  readonly name = 'deltacloud-poll' as const;

  protected strategyName() {
    return 'deltacloud-poll';
  }

  private get opts() {
    return this.ctx.config().strategy.deltacloudPoll;
  }

  protected tickMs(): number {
    return Math.min(1_000, Math.max(50, Math.round(this.opts.intervalMs / 4)));
  }

  private dueSet(): string {
    return 'deltacloud-poll';
  }

  protected dueSets(): string[] {
    return [this.dueSet()];
  }

  override staleAfterMs(): number {
    return 2 * this.opts.intervalMs;
  }

  protected override async begin(): Promise<void> {
    this.handle('list', (data) => this.poll(String(data.backend)));
    for (const dc of this.sync.deltacloudClients()) {
      await this.ctx.scheduler.setDue(this.dueSet(), dc.id, this.ctx.now(), { onlyIfAbsent: true });
    }
  }

  protected async tick(): Promise<void> {
    const taken = await this.ctx.scheduler.takeDue(this.dueSet(), this.ctx.now(), 1_000, 60_000);
    await this.dispatchAll(this.dueSet(), taken.map((backend) => ({ member: backend, suffix: 'list', data: { backend }, key: backend })));
  }

  /** One listing of one Deltacloud backend. */
  async poll(backendId: string): Promise<void> {
    const dc = this.sync.client(backendId);
    if (!(dc instanceof DeltacloudClient)) return;
    try {
      await this.sync.syncDeltacloud(dc);
    } finally {
      if (!this.stopped) await this.ctx.scheduler.setDue(this.dueSet(), backendId, this.ctx.now() + jittered(this.opts.intervalMs, this.opts.jitter));
    }
  }
}
