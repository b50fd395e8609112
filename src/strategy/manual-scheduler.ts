/**
 * A {@link Scheduler} on a manual clock, for deterministic strategy tests (the conformance
 * suite): nothing runs until `advance(ms)`, which moves the clock from one due tick to the
 * next, runs each tick inline and then every job it enqueued, until the target time. Due sets
 * are the real ones (Redis), so leases and `onlyIfAbsent` behave as in production.
 */
import type { ScheduleStore, TakeDueOptions } from '../store/schedule-store.js';
import type { JobData, JobHandler, Scheduler } from './scheduler.js';

/** The clock the scheduler moves: the simulator's world time and the gateway's `now`. */
export interface ManualClock {
  now(): number;
  /** Moves time forward to `ms` (never backwards). */
  advanceTo(ms: number): void | Promise<void>;
}

interface Repeat {
  everyMs: number;
  name: string;
  data: JobData;
  nextAtMs: number;
}

export class ManualScheduler implements Scheduler {
  private readonly handlers = new Map<string, JobHandler>();
  private readonly repeats = new Map<string, Repeat>();
  private readonly queued: { name: string; data: JobData; jobId: string; atMs: number }[] = [];
  private jobSeq = 0;

  constructor(
    private readonly dueSets: ScheduleStore,
    private readonly clock: ManualClock,
  ) {}

  handle(name: string, run: JobHandler): void {
    this.handlers.set(name, run);
  }

  unhandle(name: string, run?: JobHandler): void {
    if (!run || this.handlers.get(name) === run) this.handlers.delete(name);
  }

  /** Like BullMQ's job schedulers: the first run is due now, then every `everyMs`. */
  async every(schedulerId: string, everyMs: number, job: { name: string; data?: JobData }): Promise<void> {
    const existing = this.repeats.get(schedulerId);
    this.repeats.set(schedulerId, { everyMs, name: job.name, data: job.data ?? {}, nextAtMs: existing?.nextAtMs ?? this.clock.now() });
  }

  async removeSchedules(idPrefix: string): Promise<number> {
    let removed = 0;
    for (const id of [...this.repeats.keys()]) if (id.startsWith(idPrefix) && this.repeats.delete(id)) removed++;
    return removed;
  }

  async removeSchedulesExcept(keepPrefixes: string[]): Promise<string[]> {
    const removed = [...this.repeats.keys()].filter((id) => !keepPrefixes.some((p) => id.startsWith(p)));
    for (const id of removed) this.repeats.delete(id);
    return removed;
  }

  async schedules(): Promise<{ id: string; everyMs: number | null; name: string }[]> {
    return [...this.repeats].map(([id, r]) => ({ id, everyMs: r.everyMs, name: r.name }));
  }

  async enqueue(name: string, data: JobData, options: { jobId?: string; delayMs?: number } = {}): Promise<void> {
    const jobId = options.jobId ?? `job-${++this.jobSeq}`;
    // Like BullMQ: a job whose id is still waiting is not added twice.
    if (this.queued.some((q) => q.jobId === jobId)) return;
    this.queued.push({ name, data, jobId, atMs: this.clock.now() + (options.delayMs ?? 0) });
  }

  setDue(set: string, member: string, atMs: number, options?: { onlyIfAbsent?: boolean; onlyIfEarlier?: boolean }): Promise<void> {
    return this.dueSets.setDue(set, member, atMs, options);
  }

  takeDue(set: string, nowMs: number, options: TakeDueOptions): Promise<string[]> {
    return this.dueSets.takeDue(set, nowMs, options);
  }

  removeDue(set: string, members?: string[]): Promise<void> {
    return this.dueSets.removeDue(set, members);
  }

  dueTimes(set: string): Promise<Map<string, number>> {
    return this.dueSets.dueTimes(set);
  }

  async counts(): Promise<Record<string, number>> {
    const now = this.clock.now();
    return { waiting: this.queued.filter((q) => q.atMs <= now).length, delayed: this.queued.filter((q) => q.atMs > now).length, active: 0, failed: 0 };
  }

  async runNow(name: string, data: JobData = {}): Promise<void> {
    const run = this.handlers.get(name);
    if (!run) throw new Error(`no handler registered for job '${name}'`);
    await run(data, { jobId: `direct-${name}`, name });
  }

  /**
   * Moves the clock forward by `ms`, running every tick and job that falls due on the way,
   * in time order, each to completion before the clock moves on.
   */
  async advance(ms: number): Promise<void> {
    const target = this.clock.now() + ms;
    for (;;) {
      await this.drain();
      const next = Math.min(...[...this.repeats.values()].map((r) => r.nextAtMs), ...this.queued.map((q) => q.atMs));
      if (!(next <= target)) break;
      if (next > this.clock.now()) await this.clock.advanceTo(next);
      for (const repeat of this.repeats.values()) {
        if (repeat.nextAtMs > this.clock.now()) continue;
        repeat.nextAtMs += repeat.everyMs;
        await this.run(repeat.name, repeat.data, `repeat-${repeat.name}`);
      }
    }
    if (target > this.clock.now()) await this.clock.advanceTo(target);
    await this.drain();
  }

  /** Runs every job due now, including those the running ones enqueue. */
  private async drain(): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      const index = this.queued.findIndex((q) => q.atMs <= now);
      if (index < 0) return;
      const [job] = this.queued.splice(index, 1);
      await this.run(job!.name, job!.data, job!.jobId);
    }
  }

  private async run(name: string, data: JobData, jobId: string): Promise<void> {
    const handler = this.handlers.get(name);
    // No handler: the job's strategy was stopped (as in BullMQ, where it would be dropped).
    if (handler) await handler(data, { jobId, name });
  }
}
