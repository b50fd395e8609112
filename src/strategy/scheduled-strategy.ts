/**
 * Base of the strategies that work on a schedule (cached-poll, webhook, deltacloud-poll): one
 * BullMQ job scheduler ticks (once per tick across all replicas); each tick takes the targets
 * that are due from the strategy's due sets and enqueues one job per target, deduplicated by
 * id, so a target is worked on by one replica at a time. Per-target due times carry jitter.
 */
import type { Logger } from '../log/logger.js';
import { BackendSync } from './backend-sync.js';
import type { JobData } from './scheduler.js';
import { BaseStrategy, type StrategyContext } from './strategy.js';

/** `ms` varied by ± `fraction`, never below 1 ms. */
export function jittered(ms: number, fraction: number, random: () => number = Math.random): number {
  return Math.max(1, Math.round(ms * (1 + (random() * 2 - 1) * fraction)));
}

export abstract class ScheduledStrategy extends BaseStrategy {
  protected readonly sync: BackendSync;
  protected stopped = false;
  private readonly handled: string[] = [];

  constructor(ctx: StrategyContext) {
    super(ctx);
    this.sync = new BackendSync(ctx, this.strategyName());
  }

  /** The strategy name, available in the constructor (before subclass fields exist). */
  protected abstract strategyName(): string;
  /** How often the tick runs. */
  protected abstract tickMs(): number;
  /** Due sets this strategy uses (removed on a final stop). */
  protected abstract dueSets(): string[];
  /** Called once per tick across replicas. */
  protected abstract tick(): Promise<void>;
  /** Called by start() after the handlers are registered (seed due sets, subscribe…). */
  protected async begin(): Promise<void> {}

  /** Registers `run` for jobs `<strategy>.<suffix>`; jobs arriving after stop are skipped. */
  protected handle(suffix: string, run: (data: JobData, log: Logger) => Promise<void>): void {
    const job = `${this.strategyName()}.${suffix}`;
    this.handled.push(job);
    this.ctx.scheduler.handle(job, async (data, info) => {
      if (this.stopped) return;
      const log = this.log.child({ job, jobId: info.jobId, ...(typeof data.backend === 'string' ? { backend: data.backend } : {}) });
      try {
        await run(data, log);
      } catch (err) {
        // The next due time is the retry; a failed poll never escapes the job.
        log.warn('job failed', { error: (err as Error).message });
      }
    });
  }

  /** Enqueues `<strategy>.<suffix>` once; a job with the same key still waiting is not added twice. */
  protected enqueue(suffix: string, data: JobData, key: string): Promise<void> {
    return this.ctx.scheduler.enqueue(`${this.strategyName()}.${suffix}`, data, { jobId: `${this.strategyName()}.${suffix}.${key}` });
  }

  /**
   * Enqueues the job for a member just taken from due set `set`. When that fails (Redis went
   * away between the take and the enqueue), the member is made due again at once instead of
   * staying leased: the target is polled as soon as Redis is back, not after its lease.
   */
  protected async dispatch(set: string, member: string, suffix: string, data: JobData, key: string): Promise<void> {
    try {
      await this.enqueue(suffix, data, key);
    } catch (err) {
      await this.ctx.scheduler.setDue(set, member, this.ctx.now());
      throw err;
    }
  }

  /** Dispatches every taken member; one failure does not strand the others. */
  protected async dispatchAll(set: string, taken: { member: string; suffix: string; data: JobData; key: string }[]): Promise<void> {
    let firstError: unknown;
    for (const t of taken) {
      try {
        await this.dispatch(set, t.member, t.suffix, t.data, t.key);
      } catch (err) {
        firstError ??= err;
      }
    }
    if (firstError !== undefined) throw firstError;
  }

  /** Runs one tick here and now (tests drive schedules this way). */
  runTick(): Promise<void> {
    return this.tick();
  }

  override async start(): Promise<void> {
    this.stopped = false;
    this.handle('tick', () => this.tick());
    await this.begin();
    await this.ctx.scheduler.every(`${this.strategyName()}:tick`, this.tickMs(), { name: `${this.strategyName()}.tick` });
  }

  override async stop(options: { final?: boolean } = {}): Promise<void> {
    this.stopped = true;
    for (const job of this.handled.splice(0)) this.ctx.scheduler.unhandle(job);
    if (options.final) {
      await this.ctx.scheduler.removeSchedules(`${this.strategyName()}:`);
      for (const set of this.dueSets()) await this.ctx.scheduler.removeDue(set);
    }
  }
}
