/**
 * Background work for strategies, on BullMQ: repeating job schedulers (one run per tick
 * across every replica), one-off jobs deduplicated by id, and "due sets" that remember when
 * each target (a deployment, a backend) is next due, so intervals can differ per target and
 * carry jitter. Due sets live in the {@link ScheduleStore}; the queue is BullMQ's.
 */
import { Queue, Worker, type Job } from 'bullmq';
import type { Logger } from '../log/logger.js';
import { isRedisUnavailable } from '../redis/redis-errors.js';
import type { QueueConnections } from '../store/stores.js';
import type { ScheduleStore, TakeDueOptions } from '../store/schedule-store.js';

export type JobData = Record<string, string | number | boolean | null>;

export type JobHandler = (data: JobData, info: { jobId: string; name: string }) => Promise<void>;


export interface SchedulerOptions {
  /** Connections for BullMQ's queue and worker. */
  connections: QueueConnections;
  /** Due sets. */
  schedules: ScheduleStore;
  /** BullMQ key prefix (`<gateway prefix>bull`). */
  bullPrefix: string;
  logger: Logger;
  /** Jobs run at once in this process. @defaultValue 8 */
  concurrency?: number;
  /** Queue name. @defaultValue strategy */
  queueName?: string;
}

export interface Scheduler {
  /** Registers the function that runs jobs named `name` (in whichever replica takes them). */
  handle(name: string, run: JobHandler): void;
  /** Forgets the handler of `name` (only `run`, when given); jobs of that name are dropped in this process. */
  unhandle(name: string, run?: JobHandler): void;
  /** Creates or updates a repeating schedule: one job per `everyMs` across all replicas. */
  every(schedulerId: string, everyMs: number, job: { name: string; data?: JobData }): Promise<void>;
  /** Removes every schedule whose id starts with `idPrefix`; returns how many. */
  removeSchedules(idPrefix: string): Promise<number>;
  /** Removes every schedule whose id starts with none of `keepPrefixes`; returns the ids removed. */
  removeSchedulesExcept(keepPrefixes: string[]): Promise<string[]>;
  /** Schedules in force. */
  schedules(): Promise<{ id: string; everyMs: number | null; name: string }[]>;
  /** Runs a job once (after `delayMs`); a job with the same `jobId` still waiting is not added twice. */
  enqueue(name: string, data: JobData, options?: { jobId?: string; delayMs?: number }): Promise<void>;
  /**
   * Sets when `member` of due set `set` is next due. `onlyIfAbsent` keeps an existing time;
   * `onlyIfEarlier` only ever moves it forward in line. While Redis is away the time is kept
   * in memory and written as soon as Redis is back, so a target never waits for its lease.
   */
  setDue(set: string, member: string, atMs: number, options?: { onlyIfAbsent?: boolean; onlyIfEarlier?: boolean }): Promise<void>;
  /** Takes the members due at `nowMs` (at most `limit`), leasing them for `leaseMs`. */
  takeDue(set: string, nowMs: number, options: TakeDueOptions): Promise<string[]>;
  /** Forgets members (or the whole set). */
  removeDue(set: string, members?: string[]): Promise<void>;
  /** Members of a due set and their due times. */
  dueTimes(set: string): Promise<Map<string, number>>;
  /** Waiting, delayed and active job counts. */
  counts(): Promise<Record<string, number>>;
  /** Runs a registered handler right here, bypassing the queue (tests drive schedules this way). */
  runNow(name: string, data?: JobData): Promise<void>;
}

/** BullMQ job ids may not contain ':'; ours are built from backend and stack ids. */
export function jobIdOf(...parts: string[]): string {
  return parts.map((p) => p.replace(/[:\s]/g, '_')).join('.');
}

export class BullScheduler implements Scheduler {
  private readonly queue: Queue;
  private worker: Worker | undefined;
  private readonly handlers = new Map<string, JobHandler>();
  private readonly prefix: string;
  private readonly log: Logger;
  /** Job names already reported as having no handler here (reported once, not per job). */
  private readonly unhandledReported = new Set<string>();

  constructor(private readonly options: SchedulerOptions) {
    this.prefix = options.bullPrefix;
    this.log = options.logger.child({ component: 'scheduler' });
    this.queue = new Queue(options.queueName ?? 'strategy', {
      connection: options.connections.queue('scheduler-queue'),
      prefix: this.prefix,
      defaultJobOptions: { removeOnComplete: true, removeOnFail: { count: 1_000 } },
    });
    // Redis outages are logged once by the connection (src/redis/redis-factory.ts), not per retry here.
    this.queue.on('error', (err) => isRedisUnavailable(err) || this.log.warn('scheduler queue error', { error: err.message }));
  }

  handle(name: string, run: JobHandler): void {
    this.handlers.set(name, run);
  }

  unhandle(name: string, run?: JobHandler): void {
    if (!run || this.handlers.get(name) === run) this.handlers.delete(name);
  }

  /** Starts taking jobs in this process. */
  start(): void {
    if (this.worker) return;
    this.worker = new Worker(this.queue.name, (job) => this.process(job), {
      connection: this.options.connections.queue('scheduler-worker', { blocking: true }),
      prefix: this.prefix,
      concurrency: this.options.concurrency ?? 8,
      // A poll may take a while against a slow backend; the lock outlives the backend timeout.
      lockDuration: 60_000,
    });
    this.worker.on('error', (err) => isRedisUnavailable(err) || this.log.warn('scheduler worker error', { error: err.message }));
  }

  private async process(job: Job): Promise<void> {
    const run = this.handlers.get(job.name);
    if (!run) {
      // Another replica (a newer version) may know this job: drop it, and say so once per
      // name (a leftover schedule ticking twice a second must not flood the log).
      if (!this.unhandledReported.has(job.name)) {
        this.unhandledReported.add(job.name);
        this.log.warn('no handler for this job name here; dropping such jobs (reported once)', { job: job.name, jobId: job.id });
      }
      return;
    }
    try {
      await run((job.data ?? {}) as JobData, { jobId: job.id ?? '', name: job.name });
    } catch (err) {
      // Strategy jobs are not retried by the queue: the next tick is the retry.
      this.log.error('job failed', { job: job.name, jobId: job.id, ...(job.data as object), error: (err as Error).message });
    }
  }

  async runNow(name: string, data: JobData = {}): Promise<void> {
    const run = this.handlers.get(name);
    if (!run) throw new Error(`no handler registered for job '${name}'`);
    await run(data, { jobId: `direct-${name}`, name });
  }

  async every(schedulerId: string, everyMs: number, job: { name: string; data?: JobData }): Promise<void> {
    await this.queue.upsertJobScheduler(jobIdOf(schedulerId), { every: everyMs }, { name: job.name, data: job.data ?? {} });
  }

  async removeSchedules(idPrefix: string): Promise<number> {
    const wanted = jobIdOf(idPrefix);
    let removed = 0;
    for (const s of await this.queue.getJobSchedulers(0, -1)) {
      if (s.key.startsWith(wanted) && (await this.queue.removeJobScheduler(s.key))) removed++;
    }
    return removed;
  }

  async removeSchedulesExcept(keepPrefixes: string[]): Promise<string[]> {
    const keep = keepPrefixes.map((p) => jobIdOf(p));
    const removed: string[] = [];
    for (const s of await this.queue.getJobSchedulers(0, -1)) {
      if (!keep.some((p) => s.key.startsWith(p)) && (await this.queue.removeJobScheduler(s.key))) removed.push(s.key);
    }
    return removed;
  }

  async schedules(): Promise<{ id: string; everyMs: number | null; name: string }[]> {
    return (await this.queue.getJobSchedulers(0, -1)).map((s) => ({ id: s.key, everyMs: s.every ? Number(s.every) : null, name: s.name }));
  }

  async enqueue(name: string, data: JobData, options: { jobId?: string; delayMs?: number } = {}): Promise<void> {
    await this.queue.add(name, data, {
      ...(options.jobId ? { jobId: jobIdOf(options.jobId) } : {}),
      ...(options.delayMs ? { delay: options.delayMs } : {}),
    });
  }

  setDue(set: string, member: string, atMs: number, options: { onlyIfAbsent?: boolean; onlyIfEarlier?: boolean } = {}): Promise<void> {
    return this.options.schedules.setDue(set, member, atMs, options);
  }

  takeDue(set: string, nowMs: number, options: TakeDueOptions): Promise<string[]> {
    return this.options.schedules.takeDue(set, nowMs, options);
  }

  removeDue(set: string, members?: string[]): Promise<void> {
    return this.options.schedules.removeDue(set, members);
  }

  dueTimes(set: string): Promise<Map<string, number>> {
    return this.options.schedules.dueTimes(set);
  }

  async counts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts('waiting', 'delayed', 'active', 'failed');
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
