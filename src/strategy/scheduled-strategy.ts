/**
 * Base of the strategies that work on a schedule: one repeating job ticks (once per tick
 * across all replicas); each tick takes the targets that are due from the strategy's due
 * sets and enqueues one job per target, deduplicated by id, so a target is worked on by one
 * replica at a time. Per-target due times carry jitter. Job payloads are typed and checked
 * by the schemas the strategy's definition declares.
 */
import type { z } from 'zod';
import { SourceSync } from '../sources/source-sync.js';
import type { JobSchemas } from './define-strategy.js';
import type { JobData, JobHandler } from './scheduler.js';
import { BaseStrategy, type StrategyContext } from './strategy.js';

/** `ms` varied by ± `fraction`, never below 1 ms. */
export function jittered(ms: number, fraction: number, random: () => number = Math.random): number {
  return Math.max(1, Math.round(ms * (1 + (random() * 2 - 1) * fraction)));
}

export abstract class ScheduledStrategy<O, J extends JobSchemas> extends BaseStrategy<O> {
  protected readonly sync: SourceSync;
  protected stopped = false;
  private readonly handled = new Map<string, JobHandler>();

  constructor(
    ctx: StrategyContext<O>,
    private readonly jobs: J,
  ) {
    super(ctx);
    this.sync = new SourceSync(ctx, ctx.name);
  }

  /** How often the tick runs. */
  protected abstract tickMs(): number;
  /** Due sets this strategy uses (removed on a final stop). */
  protected abstract dueSets(): string[];
  /** What it schedules for one backend: whole due sets, or some members of one. */
  protected abstract dueOf(backendId: string): { set: string; members?: string[] }[];
  /** Called once per tick across replicas. */
  protected abstract tick(): Promise<void>;
  /** Called by start() after the handlers are registered (seed due sets, subscribe…). */
  protected async begin(): Promise<void> {}

  /** A due set of this strategy, named after it (`<name>` or `<name>:<part>`). */
  protected dueSet(part?: string): string {
    return part === undefined ? this.name : `${this.name}:${part}`;
  }

  /** Registers `run` for jobs `<strategy>.<job>`; payloads are checked; jobs arriving after stop are skipped. */
  protected handle<K extends keyof J & string>(job: K, run: (data: z.output<J[K]>) => Promise<void>): void {
    this.register(job, async (data) => {
      const parsed = this.jobs[job]!.safeParse(data);
      if (!parsed.success) {
        // A payload from another version of the gateway: retrying would not help.
        this.log.warn('job payload does not match its schema; dropped', { job, error: parsed.error.message });
        return;
      }
      await run(parsed.data as z.output<J[K]>);
    });
  }

  private register(suffix: string, run: (data: JobData) => Promise<void>): void {
    const job = `${this.name}.${suffix}`;
    const handler: JobHandler = async (data, info) => {
      if (this.stopped) return;
      try {
        await run(data);
      } catch (err) {
        // The next due time is the retry; a failed poll never escapes the job.
        this.log.warn('job failed', { job, jobId: info.jobId, ...(typeof data.backend === 'string' ? { backend: data.backend } : {}), error: (err as Error).message });
      }
    };
    this.handled.set(job, handler);
    this.ctx.scheduler.handle(job, handler);
  }

  /** Enqueues `<strategy>.<job>` once; a job with the same key still waiting is not added twice. */
  protected enqueue<K extends keyof J & string>(job: K, data: z.input<J[K]> & JobData, key: string): Promise<void> {
    return this.ctx.scheduler.enqueue(`${this.name}.${job}`, data, { jobId: `${this.name}.${job}.${key}` });
  }

  /**
   * Enqueues the jobs for members just taken from due set `set`. When an enqueue fails (Redis
   * went away between the take and the enqueue), that member is made due again at once
   * instead of staying leased, so its target is polled as soon as Redis is back; one failure
   * does not strand the others.
   */
  protected async dispatchAll<K extends keyof J & string>(set: string, taken: { member: string; job: K; data: z.input<J[K]> & JobData; key: string }[]): Promise<void> {
    let firstError: unknown;
    for (const t of taken) {
      try {
        await this.enqueue(t.job, t.data, t.key);
      } catch (err) {
        await this.ctx.scheduler.setDue(set, t.member, this.ctx.now()).catch(() => undefined);
        firstError ??= err;
      }
    }
    if (firstError !== undefined) throw firstError;
  }

  /** Runs one tick here and now. */
  runTick(): Promise<void> {
    return this.tick();
  }

  override async start(): Promise<void> {
    this.stopped = false;
    this.register('tick', () => this.tick());
    await this.begin();
    await this.ctx.scheduler.every(`${this.name}:tick`, this.tickMs(), { name: `${this.name}.tick` });
  }

  override async stop(options: { final?: boolean } = {}): Promise<void> {
    this.stopped = true;
    // Only our own handlers: a newer instance of this strategy may already have replaced them.
    for (const [job, handler] of this.handled) this.ctx.scheduler.unhandle(job, handler);
    this.handled.clear();
    if (options.final) {
      await this.ctx.scheduler.removeSchedules(`${this.name}:`);
      for (const set of this.dueSets()) await this.ctx.scheduler.removeDue(set);
    }
  }

  /** Forgets what was scheduled for a backend that moved to another strategy. */
  async release(backendId: string): Promise<void> {
    for (const { set, members } of this.dueOf(backendId)) await this.ctx.scheduler.removeDue(set, members);
  }
}
