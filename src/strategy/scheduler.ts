/**
 * Background work for strategies, on BullMQ: repeating job schedulers (one run per tick
 * across every replica), one-off jobs deduplicated by id, and "due sets" that remember when
 * each target (a deployment, a backend) is next due, so intervals can differ per target and
 * carry jitter. Only this class and the queues talk to Redis for scheduling.
 */
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis, Result } from 'ioredis';
import type { Logger } from '../log/logger.js';
import { isRedisUnavailable } from '../redis/redis-errors.js';
import type { RedisFactory } from '../redis/redis-factory.js';

export type JobData = Record<string, string | number | boolean | null>;

export interface DueOptions {
  onlyIfAbsent?: boolean;
  onlyIfEarlier?: boolean;
}

export type JobHandler = (data: JobData, info: { jobId: string; name: string }) => Promise<void>;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    hgwTakeDue(...args: (string | number)[]): Result<string[], Context>;
  }
}

/**
 * Members of a due set whose time has come, leased for `leaseMs` (their score moves to
 * now + lease) so a crashed taker does not lose them. KEYS: set. ARGV: now, limit, lease.
 */
const TAKE_DUE_LUA = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local lease = tonumber(ARGV[1]) + tonumber(ARGV[3])
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], lease, m) end
return due
`;

export interface SchedulerOptions {
  factory: RedisFactory;
  /** Shared command connection (due sets). */
  redis: Redis;
  /** The gateway key prefix, e.g. `{hgw}:`. BullMQ keys go under `<prefix>bull`. */
  keyPrefix: string;
  logger: Logger;
  /** Jobs run at once in this process. @defaultValue 8 */
  concurrency?: number;
  /** Queue name. @defaultValue strategy */
  queueName?: string;
}

export interface Scheduler {
  /** Registers the function that runs jobs named `name` (in whichever replica takes them). */
  handle(name: string, run: JobHandler): void;
  /** Forgets the handler of `name`; jobs of that name are dropped in this process. */
  unhandle(name: string): void;
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
  setDue(set: string, member: string, atMs: number, options?: DueOptions): Promise<void>;
  /** Takes the members due at `nowMs` (at most `limit`), leasing them for `leaseMs`. */
  takeDue(set: string, nowMs: number, limit: number, leaseMs: number): Promise<string[]>;
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
  /** Due times that could not be written during a Redis outage, by set and member. */
  private readonly pendingDue = new Map<string, { set: string; member: string; atMs: number; options: DueOptions }>();

  constructor(private readonly options: SchedulerOptions) {
    this.prefix = `${options.keyPrefix}bull`;
    this.log = options.logger.child({ component: 'scheduler' });
    if (typeof (options.redis as unknown as Record<string, unknown>).hgwTakeDue !== 'function') {
      options.redis.defineCommand('hgwTakeDue', { lua: TAKE_DUE_LUA, numberOfKeys: 1 });
    }
    this.queue = new Queue(options.queueName ?? 'strategy', {
      connection: options.factory.create('scheduler-queue'),
      prefix: this.prefix,
      defaultJobOptions: { removeOnComplete: true, removeOnFail: { count: 1_000 } },
    });
    // Redis outages are logged once by the connection (src/redis/redis-factory.ts), not per retry here.
    options.redis.on('ready', () => void this.flushPendingDue());
    this.queue.on('error', (err) => isRedisUnavailable(err) || this.log.warn('scheduler queue error', { error: err.message }));
  }

  private dueKey(set: string): string {
    return `${this.options.keyPrefix}due:${set}`;
  }

  handle(name: string, run: JobHandler): void {
    this.handlers.set(name, run);
  }

  unhandle(name: string): void {
    this.handlers.delete(name);
  }

  /** Starts taking jobs in this process. */
  start(): void {
    if (this.worker) return;
    this.worker = new Worker(this.queue.name, (job) => this.process(job), {
      connection: this.options.factory.create('scheduler-worker', { blocking: true }),
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

  async setDue(set: string, member: string, atMs: number, options: DueOptions = {}): Promise<void> {
    try {
      await this.writeDue(set, member, atMs, options);
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err;
      // Lost, this due time would leave the target leased (taken, never rescheduled) for the
      // whole lease after Redis returns; kept here, it is written the moment Redis is ready.
      const key = `${set}\u0000${member}`;
      const previous = this.pendingDue.get(key);
      if (!previous || !(options.onlyIfAbsent || (options.onlyIfEarlier && previous.atMs <= atMs))) {
        this.pendingDue.set(key, { set, member, atMs, options });
      }
    }
  }

  private async writeDue(set: string, member: string, atMs: number, options: DueOptions): Promise<void> {
    const key = this.dueKey(set);
    if (options.onlyIfAbsent) await this.options.redis.zadd(key, 'NX', Math.round(atMs), member);
    else if (options.onlyIfEarlier) await this.options.redis.zadd(key, 'LT', Math.round(atMs), member);
    else await this.options.redis.zadd(key, Math.round(atMs), member);
  }

  /** Writes the due times kept during an outage (Redis is ready again). */
  private async flushPendingDue(): Promise<void> {
    if (this.pendingDue.size === 0) return;
    const pending = [...this.pendingDue.values()];
    this.pendingDue.clear();
    let written = 0;
    for (const p of pending) {
      try {
        await this.writeDue(p.set, p.member, p.atMs, p.options);
        written++;
      } catch {
        // Away again: keep it for the next 'ready' (a newer time set meanwhile wins).
        this.pendingDue.set(`${p.set}\u0000${p.member}`, this.pendingDue.get(`${p.set}\u0000${p.member}`) ?? p);
      }
    }
    this.log.info('due times kept during the Redis outage written', { written, left: this.pendingDue.size });
  }

  /** Due times waiting for Redis (for status and tests). */
  get pendingDueCount(): number {
    return this.pendingDue.size;
  }

  takeDue(set: string, nowMs: number, limit: number, leaseMs: number): Promise<string[]> {
    return this.options.redis.hgwTakeDue(this.dueKey(set), Math.round(nowMs), limit, Math.round(leaseMs));
  }

  async removeDue(set: string, members?: string[]): Promise<void> {
    if (!members) await this.options.redis.del(this.dueKey(set));
    else if (members.length > 0) await this.options.redis.zrem(this.dueKey(set), ...members);
  }

  async dueTimes(set: string): Promise<Map<string, number>> {
    const flat = await this.options.redis.zrange(this.dueKey(set), 0, '-1', 'WITHSCORES');
    const out = new Map<string, number>();
    for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i]!, Number(flat[i + 1]));
    return out;
  }

  async counts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts('waiting', 'delayed', 'active', 'failed');
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
