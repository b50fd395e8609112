/**
 * The contract between the fan-out and the delivery worker for the happy path: deliveries
 * the fan-out attempts itself instead of queueing a BullMQ job for each.
 */
import type { ClaimResult, NewDelivery } from '../store/delivery-store.js';
import type { DeliveryJobSpec } from './delivery-queue.js';
import type { StoredWebhook } from './webhook-schemas.js';
import type { SendResult } from './webhook-sender.js';

/**
 * The happy path: a delivery to an endpoint that neither paces nor delays its first attempt
 * is attempted by the fan-out itself (recorded and claimed under a lease in one script call,
 * one send, one record), not through a BullMQ job. What must wait — a retry, a paced endpoint over its rate — is handed
 * to the job `DeliveryQueue.jobId(spec)`, and anything over `concurrency()` is queued.
 */
export interface DirectDelivery {
  /**
   * Attempts a delivery the fan-out has just recorded and claimed (`claimed`); with `sent`,
   * the request already went out (see {@link send}) and the attempt is its answer.
   */
  attempt(spec: DeliveryJobSpec, claimed: ClaimResult, sent?: SentEarly): Promise<{ kind: 'settled' } | { kind: 'later'; atMs: number }>;
  /**
   * Sends a new delivery to an unordered endpoint at once, while its record and claim are
   * being written: the request leaves with the feed entry in hand instead of one Redis round
   * trip later. Until the attempt is recorded the feed entry stays unacknowledged, so a crash
   * in between only repeats the delivery (same webhook-id), as a crash mid-attempt always could.
   */
  send(webhook: StoredWebhook, delivery: NewDelivery): SentEarly;
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
