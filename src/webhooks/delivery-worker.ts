/**
 * Runs delivery attempts: claims the delivery, checks the endpoint (gone, disabled, pacing),
 * signs and sends, records the attempt, and reschedules on the retry schedule (with jitter,
 * or the receiver's clamped Retry-After) by moving its own job to the delayed set. After the
 * last attempt the delivery is dead-lettered. `410 Gone`, and failing without a single
 * success for `disableAfterMs`, disable the endpoint and record `webhook.disabled`.
 *
 * Never lets an error escape a job except a Redis failure while recording, which BullMQ
 * retries with backoff.
 */
import { DelayedError, Worker, type Job } from 'bullmq';
import { isRedisUnavailable } from '../redis/redis-errors.js';
import type { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ChangeFeed } from '../store/change-feed.js';
import type { ClaimResult, DeliveryStore, FinishInput, Finished, NewDelivery } from '../store/delivery-store.js';
import type { AttemptNext, SentEarly } from './direct-delivery.js';
import { DELIVERY_QUEUE, DeliveryQueue, type DeliveryJobSpec, type StoredJobData } from './delivery-queue.js';
import { signingSecrets, type WebhookRegistry } from '../store/webhook-registry.js';
import type { Attempt, StoredWebhook } from './webhook-schemas.js';
import type { SendResult, WebhookSender } from './webhook-sender.js';
import { bodyFromFeed } from './webhook-payload.js';
import { baseAttempt as base, judge } from './attempt-outcome.js';
import { DirectLeases } from './direct-leases.js';

export interface DeliveryWorkerOptions {
  connection: Redis;
  prefix: string;
  queue: DeliveryQueue;
  deliveries: DeliveryStore;
  registry: WebhookRegistry;
  sender: WebhookSender;
  feed: ChangeFeed;
  metrics: Metrics;
  logger: Logger;
  config: () => Config['webhooks'];
  now: () => number;
  /**
   * BullMQ lock of an attempt in flight, renewed every half lock while the process lives. A
   * killed process's attempts are taken back after the lock lapses and the next stalled
   * check (every second): re-sent within about lock + 2 s, with the same webhook-id.
   * @defaultValue 2000
   */
  lockDurationMs?: number;
  /**
   * A new delivery sent before it is recorded (see attemptNew) is recorded with its answer
   * when the answer comes within this; otherwise it is recorded and claimed when this is up.
   * @defaultValue 100
   */
  recordWithAnswerMs?: number;
  /**
   * Window of the `maxPerSecond` limiter. A little over a second so that network jitter
   * cannot bunch more than `maxPerSecond` receipts into any one second at the receiver.
   * @defaultValue 1100
   */
  paceWindowMs?: number;
}

/** A job that found a direct attempt's lease looks again this long after it lapses. */
const LEASE_RECHECK_MS = 50;
/** Endpoint versions kept parsed; past this many the cache starts over. */
const ENDPOINT_CACHE = 256;

export class DeliveryWorker {
  private worker: Worker | undefined;
  private readonly log: Logger;
  /** The leases of the direct attempts in flight. */
  private readonly leases: DirectLeases;
  /** Parsed endpoints by their stored JSON (see {@link endpointOf}). */
  private readonly endpoints = new Map<string, StoredWebhook>();

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.log = options.logger.child({ component: 'webhook-worker' });
    this.leases = new DirectLeases(options.deliveries, this.directLeaseMs(), this.log);
  }

  start(): void {
    const cfg = this.options.config();
    const lockDuration = this.options.lockDurationMs ?? 2_000;
    this.worker = new Worker(DELIVERY_QUEUE, (job, token) => this.process(job as Job<StoredJobData>, token ?? ''), {
      connection: this.options.connection,
      prefix: this.options.prefix,
      concurrency: cfg.concurrency,
      // The lock is short and renewed while this process lives (an attempt may run the whole
      // webhooks.timeoutMs), so a job whose process died is taken back within seconds. An
      // event loop blocked longer than the lock can start an attempt twice: delivery is at
      // least once, and both carry the same webhook-id.
      lockDuration,
      stalledInterval: Math.min(1_000, lockDuration),
      // A killed process must never make a delivery fail for "stalling": it is retried.
      maxStalledCount: 1_000,
      removeOnComplete: { count: 0 },
    });
    // Redis outages are logged once by the connection (src/redis/redis-factory.ts), not per retry here.
    this.worker.on('error', (err) => isRedisUnavailable(err) || this.log.warn('webhook worker error', { error: err.message }));
    this.worker.on('failed', (job, err) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) {
        this.log.error('delivery job gave up after infrastructure errors', { jobId: job.id, error: err.message });
      }
    });
  }

  /** Applies a new concurrency. */
  setConcurrency(n: number): void {
    if (this.worker) this.worker.concurrency = n;
  }

  async close(): Promise<void> {
    this.leases.stop();
    await this.worker?.close();
  }

  private async process(job: Job<StoredJobData>, token: string): Promise<void> {
    const spec = DeliveryQueue.specOf(job.data);
    const next = await this.attempt(spec, job.id ?? DeliveryQueue.jobId(spec));
    if (next.kind === 'later') {
      await job.moveToDelayed(next.atMs, token);
      throw new DelayedError();
    }
  }

  /**
   * The fan-out's own attempt of a delivery it just recorded (the happy path, no job). It
   * owns the delivery under a lease in Redis, renewed while it runs, instead of a BullMQ
   * lock: a job of the same delivery — the entry fanned out again by another leader, or the
   * wake-up of an ordered head — waits for it to lapse rather than sending alongside. A retry
   * or a wait is handed to the job `DeliveryQueue.jobId(spec)`, which the caller enqueues.
   */
  async attemptDirect(spec: DeliveryJobSpec, claimed?: ClaimResult, sent?: SentEarly): Promise<AttemptNext> {
    const owner = DeliveryQueue.directOwner(spec);
    const jobId = DeliveryQueue.jobId(spec);
    return this.leases.hold(jobId, { endpointId: spec.endpointId, deliveryId: spec.eventId, owner }, () =>
      this.attempt(spec, owner, { leaseMs: this.leases.leaseMs, handOverTo: jobId, ...(sent ? { sent } : {}) }, claimed),
    );
  }

  /**
   * The endpoint as the claim read it. Parsed once per version of its record: every
   * delivery to an endpoint reads the same JSON until the endpoint changes.
   */
  private endpointOf(json: string): StoredWebhook {
    let webhook = this.endpoints.get(json);
    if (!webhook) {
      if (this.endpoints.size >= ENDPOINT_CACHE) this.endpoints.clear();
      webhook = JSON.parse(json) as StoredWebhook;
      this.endpoints.set(json, webhook);
    }
    return webhook;
  }

  /** One signed request of a delivery (its id is the `webhook-id`) to `webhook`. */
  private send(webhook: StoredWebhook, id: string, body: string): Promise<SendResult> {
    return this.options.sender.send({ url: webhook.url, id, body, secrets: signingSecrets(webhook, this.options.now()), timeoutMs: this.options.config().timeoutMs });
  }

  /** How long a direct attempt's claim lasts unless renewed (every half lease while it runs). */
  directLeaseMs(): number {
    return this.options.lockDurationMs ?? 2_000;
  }

  /**
   * One attempt of the delivery `spec`, owned as `owner` (its job id, or a direct owner with a
   * lease): claims it, checks the endpoint (gone, disabled, pacing), signs and sends, records
   * the attempt. Answers `later` (with the epoch ms) when it must run again — a retry on the
   * schedule, a paced endpoint over its rate, a direct attempt's lease still running — and
   * `settled` otherwise (delivered, dead, or nothing to do: waiting behind an ordered head,
   * owned by another job, already finished). `claimed`: the claim was already made (with the
   * delivery's creation, by the fan-out).
   */
  async attempt(
    spec: DeliveryJobSpec,
    owner: string,
    direct?: { leaseMs: number; handOverTo: string; sent?: SentEarly },
    claimed?: ClaimResult,
  ): Promise<AttemptNext> {
    const settled = { kind: 'settled' } as const;
    const { endpointId, eventId, run, subject } = spec;
    const jobId = owner;
    const deliveries = this.options.deliveries;
    let claim = claimed ?? (await deliveries.claim(endpointId, eventId, subject, owner, run, direct ? { leaseMs: direct.leaseMs } : {}));
    if (claim.kind === 'busy') {
      // A direct attempt never competes: whoever holds the delivery finishes it.
      if (direct) return settled;
      // A direct attempt holds it: look again once its lease has run out (by then it has
      // finished, handed its retry over, or died).
      if (claim.leaseMs !== null) return { kind: 'later', atMs: Date.now() + claim.leaseMs + LEASE_RECHECK_MS };
      // Another job owns it; take over only if that job no longer exists or finished.
      const state = await this.options.queue.queue.getJobState(claim.owner);
      if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return settled;
      claim = await deliveries.claim(endpointId, eventId, subject, jobId, run, { forceOwner: claim.owner });
    }
    if (claim.kind === 'done' && subject !== '') {
      // A repeat of a finished ordered delivery: make sure its successor is awake (its
      // previous owner may have died between finishing and waking it).
      const head = await deliveries.head(endpointId, subject);
      if (head) await this.options.queue.add([{ endpointId, eventId: head.id, run: head.run, subject, head: true }]);
    }
    if (claim.kind !== 'ok') return settled;

    const webhook = this.endpointOf(claim.endpointJson);
    const cfg = this.options.config();
    const attemptNo = claim.attemptsMade + 1;
    const sent = direct?.sent;
    const startedAt = sent?.startedAt ?? this.options.now();
    // No body kept (a direct attempt held it, then died or could not record): from the feed.
    const body = claim.body === '' && claim.cursor ? await bodyFromFeed(this.options.feed, claim.cursor, eventId) : claim.body;
    if (body === null) {
      const error = `its event (cursor ${claim.cursor}) left the feed before it was sent (feed.maxAgeMs / feed.maxLength)`;
      await this.record(spec, webhook, { ...base(eventId, '', attemptNo, startedAt), outcome: 'dead', error }, null, '');
      this.options.metrics.deliveries.inc({ outcome: 'dead_lettered' });
      return settled;
    }

    // (A request sent early has left: what is recorded is what it got.)
    if (claim.disabledAt !== null && !sent) {
      await this.record(spec, webhook, { ...base(eventId, body, attemptNo, startedAt), outcome: 'dead', error: `endpoint disabled: ${claim.disabledReason ?? ''}` }, null, body);
      this.options.metrics.deliveries.inc({ outcome: 'dead_lettered' });
      return settled;
    }
    if (webhook.maxPerSecond) {
      const waitMs = await deliveries.rateLimit(endpointId, webhook.maxPerSecond, this.options.paceWindowMs ?? 1_100, `${jobId}:${startedAt}:${Math.random()}`);
      if (waitMs > 0) {
        if (direct) await deliveries.handOver(endpointId, eventId, owner, direct.handOverTo);
        return { kind: 'later', atMs: Date.now() + waitMs };
      }
    }

    // Sent before it was recorded (attemptNew, an answer slower than recordWithAnswerMs), or now.
    return this.complete(spec, webhook, body, attemptNo, startedAt, sent?.result ?? this.send(webhook, eventId, body), direct?.handOverTo);
  }

  /**
   * A new delivery to an unordered endpoint, sent before anything is recorded
   * (DirectDelivery.attemptNew). Answered within `recordWithAnswerMs`, it is recorded with
   * its attempt in one script call, with no claim: no other process knows of it, and its feed
   * entry, unacknowledged until then, is what a crash falls back on. A slower one is recorded
   * and claimed when that time is up, as any direct attempt, so the log shows it in flight and
   * a job of the same delivery waits for its lease. A Redis failure is thrown (the entry stays
   * pending and is fanned out again).
   */
  async attemptNew(spec: DeliveryJobSpec, webhook: StoredWebhook, delivery: NewDelivery, createdAtMs: number): Promise<AttemptNext> {
    // Written before the first await: the request leaves before anything is recorded.
    const sent: SentEarly = { result: this.send(webhook, delivery.eventId, delivery.body), startedAt: this.options.now() };
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<true>((resolve) => (timer = setTimeout(resolve, this.options.recordWithAnswerMs ?? 100, true)));
    const late = await Promise.race([sent.result.then(() => false), slow]).finally(() => clearTimeout(timer));
    if (late) {
      const [r] = await this.options.deliveries.ensure(spec.endpointId, [delivery], 'new', createdAtMs, {
        owners: [DeliveryQueue.directOwner(spec)],
        leaseMs: this.directLeaseMs(),
      });
      // Not claimed: recorded meanwhile by another fan-out (which sends it), or the endpoint is gone.
      return r?.claim?.kind === 'ok' ? this.attemptDirect(spec, r.claim, sent) : { kind: 'settled' };
    }
    const created = { type: delivery.type, createdAtMs, cursor: delivery.cursor ?? '' };
    return this.complete(spec, webhook, delivery.body, 1, sent.startedAt, sent.result, DeliveryQueue.jobId(spec), created);
  }

  /**
   * The answer of attempt `attemptNo` (started at `startedAt`): recorded (with the delivery
   * itself when `created`), then the endpoint disabled if it must be, and a retry's time.
   */
  private async complete(
    spec: DeliveryJobSpec,
    webhook: StoredWebhook,
    body: string,
    attemptNo: number,
    startedAt: number,
    answer: Promise<SendResult>,
    handOver?: string,
    created?: FinishInput['created'],
  ): Promise<AttemptNext> {
    const result = await answer;
    this.options.metrics.deliveryDuration.observe(result.durationMs / 1_000);
    const cfg = this.options.config();
    const { outcome, nextAt } = judge(result, attemptNo, cfg, this.options.now());
    const attempt: Omit<Attempt, 'seq'> = {
      ...base(spec.eventId, body, attemptNo, startedAt),
      status: result.status,
      durationMs: result.durationMs,
      outcome,
      responseBody: result.responseBody,
      error: result.error,
      nextAttemptAt: nextAt === null ? null : new Date(nextAt).toISOString(),
    };
    const finished = await this.record(spec, webhook, attempt, result.ok, body, handOver, created);
    // Nothing recorded: the endpoint was deleted while the request was on its way.
    if (!finished.recorded) return { kind: 'settled' };
    this.options.metrics.deliveries.inc({ outcome: result.ok ? 'delivered' : outcome === 'dead' ? 'dead_lettered' : 'failed' });

    if (outcome === 'disabled') {
      await this.disable(webhook, 'the receiver answered 410 Gone');
    } else if (!result.ok && finished.failingSince !== null && this.options.now() - finished.failingSince >= cfg.disableAfterMs) {
      await this.disable(webhook, `failing without a single success since ${new Date(finished.failingSince).toISOString()}`);
    }
    if (nextAt !== null) return { kind: 'later', atMs: Date.now() + (nextAt - this.options.now()) };
    return { kind: 'settled' };
  }

  /**
   * Records the attempt (with the body, kept for what comes next unless it was delivered);
   * wakes the next head of an ordered queue.
   */
  private async record(
    spec: DeliveryJobSpec,
    webhook: StoredWebhook,
    attempt: Omit<Attempt, 'seq'>,
    success: boolean | null,
    body: string,
    handOver?: string,
    created?: FinishInput['created'],
  ): Promise<Finished> {
    const { endpointId, eventId, subject } = spec;
    const outcome = attempt.outcome === 'disabled' ? 'dead' : attempt.outcome === 'retrying' ? 'retrying' : attempt.outcome === 'delivered' ? 'delivered' : 'dead';
    const finished = await this.options.deliveries.finish({
      endpointId,
      deliveryId: eventId,
      subject,
      outcome,
      nowMs: this.options.now(),
      attempt,
      nextAttemptAtMs: attempt.nextAttemptAt ? Date.parse(attempt.nextAttemptAt) : null,
      status: attempt.status,
      error: attempt.error,
      success,
      body,
      ...(handOver ? { handOver } : {}),
      ...(created ? { created } : {}),
    });
    if (outcome === 'dead' && finished.recorded) this.log.warn('delivery dead-lettered', { webhook: webhook.id, delivery: eventId, error: attempt.error });
    if (finished.nextHead) await this.options.queue.add([{ endpointId, eventId: finished.nextHead.id, run: finished.nextHead.run, subject, head: true }]);
    return finished;
  }

  private async disable(webhook: StoredWebhook, reason: string): Promise<void> {
    if (!(await this.options.registry.disable(webhook.id, reason))) return;
    this.log.warn('webhook disabled', { webhook: webhook.id, reason });
    this.options.metrics.deliveries.inc({ outcome: 'disabled' });
    await this.options.feed.append('webhook.disabled', { id: webhook.id, url: webhook.url, reason, disabledAt: new Date(this.options.now()).toISOString() }, { subject: webhook.id });
  }
}
