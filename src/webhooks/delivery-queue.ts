/**
 * The BullMQ queue of delivery attempts. A job names a delivery (endpoint, event, run); its
 * id is derived from them, so enqueuing the same delivery twice — a fan-out repeated after a
 * crash — adds one job.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../log/logger.js';
import { isRedisUnavailable } from '../redis/redis-errors.js';

export const DELIVERY_QUEUE = 'webhooks';

/** A delivery attempt to make: which delivery, and when. */
export interface DeliveryJobSpec {
  endpointId: string;
  /** The event, which is also the delivery's id (its `webhook-id`). */
  eventId: string;
  /** The delivery's run: a redelivery starts a new one. */
  run: number;
  /** Ordered subject queue this delivery belongs to ('' for none). */
  subject: string;
  /** The first attempt (delayed by the schedule's first entry). */
  first?: boolean;
  /** Woken as the new head of an ordered queue (a distinct job id from the first one). */
  head?: boolean;
  /** Run no sooner than this many ms from now (a retry handed over by the fan-out). */
  delayMs?: number;
}

/**
 * A job's data as BullMQ stores it: short names, like a record's fields, and the names every
 * version has written, so a job queued before an upgrade runs after it.
 */
export interface StoredJobData {
  ep: string;
  ev: string;
  run: number;
  sub: string;
}

export class DeliveryQueue {
  readonly queue: Queue;

  constructor(
    connection: Redis,
    prefix: string,
    logger: Logger,
    private readonly firstDelayMs: () => number,
  ) {
    this.queue = new Queue(DELIVERY_QUEUE, {
      connection,
      prefix,
      defaultJobOptions: {
        removeOnComplete: true,
        removeOnFail: { count: 10_000 },
        // Only infrastructure errors (Redis unreachable while recording) reach BullMQ's retry;
        // delivery failures are rescheduled by the worker on the webhook schedule.
        attempts: 25,
        backoff: { type: 'exponential', delay: 1_000 },
      },
    });
    // Redis outages are logged once by the connection (src/redis/redis-factory.ts), not per retry here.
    this.queue.on('error', (err) => isRedisUnavailable(err) || logger.warn('webhook queue error', { error: err.message }));
  }

  static jobId(spec: Pick<DeliveryJobSpec, 'endpointId' | 'eventId' | 'run' | 'head'>): string {
    return `${spec.endpointId}.${spec.eventId}.${spec.run}${spec.head ? '.h' : ''}`;
  }

  /**
   * Owner of the fan-out's direct attempt of a delivery (distinct from any job's id). Only
   * its record holds it, so it need not name the delivery: short, it keeps the record a
   * listpack, which the attempt's finish updates in place instead of writing anew.
   */
  static directOwner(spec: Pick<DeliveryJobSpec, 'run'>): string {
    return `direct:${spec.run}`;
  }

  /** The delivery a stored job names. */
  static specOf(data: StoredJobData): DeliveryJobSpec {
    return { endpointId: data.ep, eventId: data.ev, run: data.run, subject: data.sub };
  }

  async add(specs: DeliveryJobSpec[]): Promise<void> {
    if (specs.length === 0) return;
    await this.queue.addBulk(
      specs.map((spec) => {
        const delay = spec.delayMs ?? (spec.first ? this.firstDelayMs() : 0);
        const data: StoredJobData = { ep: spec.endpointId, ev: spec.eventId, run: spec.run, sub: spec.subject };
        return {
          name: 'deliver',
          data,
          opts: { jobId: DeliveryQueue.jobId(spec), ...(delay > 0 ? { delay } : {}) },
        };
      }),
    );
  }

  /** Jobs not yet finished. */
  async outstanding(): Promise<number> {
    const counts = await this.queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized', 'waiting-children');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
