/** What an attempt's answer means: its outcome, when to try again, and the attempt as logged. */
import type { Config } from '../config/schema.js';
import type { Attempt } from './webhook-schemas.js';
import type { SendResult } from './webhook-sender.js';

/** Delay for the retry after attempt `attempt` (1-based), with ± jitter. */
export function retryDelayMs(schedule: readonly number[], attempt: number, jitter: number, random = Math.random): number {
  const base = schedule[Math.min(attempt, schedule.length - 1)] ?? 0;
  return Math.max(0, Math.round(base * (1 + (random() * 2 - 1) * jitter)));
}

/** The log entry of attempt `attempt` of a delivery, before its answer is known. */
export function baseAttempt(eventId: string, body: string, attempt: number, at: number): Omit<Attempt, 'seq' | 'outcome'> {
  return {
    deliveryId: eventId,
    eventType: typeOf(body),
    attempt,
    at: new Date(at).toISOString(),
    status: null,
    durationMs: 0,
    responseBody: null,
    error: null,
    nextAttemptAt: null,
  };
}

/**
 * Attempt `attemptNo` answered `result`: delivered, disabled (410 Gone), dead (the schedule's
 * last attempt), or retrying after the schedule's delay (with jitter) or the receiver's clamped
 * Retry-After; `nextAt` (epoch ms) only for a retry.
 */
export function judge(
  result: SendResult,
  attemptNo: number,
  cfg: Config['webhooks'],
  now: number,
): { outcome: Attempt['outcome']; nextAt: number | null } {
  const schedule = cfg.retryScheduleMs;
  if (result.ok) return { outcome: 'delivered', nextAt: null };
  if (result.status === 410) return { outcome: 'disabled', nextAt: null };
  if (attemptNo >= schedule.length) return { outcome: 'dead', nextAt: null };
  const delay = result.retryAfterMs !== null ? Math.min(result.retryAfterMs, cfg.maxRetryAfterMs) : retryDelayMs(schedule, attemptNo, cfg.jitter);
  return { outcome: 'retrying', nextAt: now + delay };
}

function typeOf(body: string): string {
  const m = /^\{"type":"([^"]+)"/.exec(body);
  return m?.[1] ?? '';
}
