/**
 * The contract between the fan-out and the delivery worker for the happy path: deliveries
 * the fan-out attempts itself instead of queueing a BullMQ job for each.
 */
import type { ClaimResult, NewDelivery } from '../store/delivery-store.js';
import type { DeliveryJobSpec } from './delivery-queue.js';
import type { StoredWebhook } from './webhook-schemas.js';
import type { SendResult } from './webhook-sender.js';

/** What an attempt leaves: nothing more to do, or a retry or wait due at `atMs` (epoch ms). */
export type AttemptNext = { kind: 'settled' } | { kind: 'later'; atMs: number };

/**
 * The happy path: a delivery to an endpoint that neither paces nor delays its first attempt
 * is attempted by the fan-out itself, not through a BullMQ job: a new one to an unordered
 * endpoint is sent at once and recorded with its answer ({@link attemptNew}), any other is
 * recorded and claimed under a lease in one script call, then sent and its attempt recorded
 * ({@link attempt}). What must wait — a retry, a paced endpoint over its rate — is handed to
 * the job `DeliveryQueue.jobId(spec)`, and anything over `concurrency()` is queued.
 */
export interface DirectDelivery {
  /** Attempts a delivery the fan-out has just recorded and claimed (`claimed`). */
  attempt(spec: DeliveryJobSpec, claimed: ClaimResult): Promise<AttemptNext>;
  /**
   * Sends a new delivery to an unordered endpoint at once, before anything is recorded (the
   * request is written before this returns: it leaves with the feed entry in hand, not a Redis
   * round trip later), then records it with its answer in one call, or, if the answer is slow,
   * records and claims it first (DeliveryWorker.attemptNew). Until then the feed entry stays
   * unacknowledged, so a crash only repeats the delivery (same webhook-id), as a crash
   * mid-attempt always could. Throws when Redis fails: the entry must then stay pending.
   */
  attemptNew(spec: DeliveryJobSpec, webhook: StoredWebhook, delivery: NewDelivery, createdAtMs: number): Promise<AttemptNext>;
  /** How long the fan-out's claim of a delivery lasts (a job waits for it to lapse). */
  leaseMs(): number;
  /** May this endpoint's deliveries go directly? */
  eligible(webhook: StoredWebhook): boolean;
  /** Direct attempts in flight at most (beyond: jobs). */
  concurrency(): number;
}

/** A request sent before its delivery was recorded: its answer, and when it left. */
export interface SentEarly {
  result: Promise<SendResult>;
  startedAt: number;
}
