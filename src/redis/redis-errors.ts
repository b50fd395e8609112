/**
 * The one place that decides whether an error means "Redis is not there right now". Routes
 * never catch Redis errors themselves: the problem middleware asks {@link asRedisUnavailable}
 * and answers 503 with Retry-After; background work uses {@link isRedisUnavailable} to tell
 * an outage (retry when Redis is back) from a bug.
 */
import { UnavailableError } from '../errors.js';

/** Socket-level failures of the connection to Redis. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);

/** ioredis client-side messages for a connection that is down, closing or too slow. */
const CLIENT_MESSAGES = [
  /^Stream isn't writeable/,
  /^Connection is closed/,
  /^Command timed out/,
  /^Reached the max retries per request limit/,
  /^None of startup nodes is available/,
  /^Failed to refresh slots cache/,
  /^Cluster(AllFailed)?Error/,
];

/** Redis replies that mean "not now" rather than "wrong command" (RESP error prefixes). */
const TRANSIENT_REPLIES = /^(LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MISCONF)\b/;

/** True when `err` (or an error in its `cause` chain) says Redis is unreachable or not serving. */
export function isRedisUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code && NETWORK_CODES.has(code)) return true;
    if (e.name === 'MaxRetriesPerRequestError' || e.name === 'ClusterAllFailedError') return true;
    if (CLIENT_MESSAGES.some((m) => m.test(e.message))) return true;
    if (e.name === 'ReplyError' && TRANSIENT_REPLIES.test(e.message)) return true;
  }
  return false;
}

/** Seconds a client should wait before retrying during a Redis outage. */
export const REDIS_RETRY_AFTER_SECONDS = 2;

/** The 503 to answer for a Redis outage, or undefined when `err` is something else. */
export function asRedisUnavailable(err: unknown): UnavailableError | undefined {
  if (!isRedisUnavailable(err)) return undefined;
  return new UnavailableError('the gateway cannot reach its Redis right now; retry shortly (see /readyz)', {
    cause: err,
    retryAfterSeconds: REDIS_RETRY_AFTER_SECONDS,
  });
}

/** A Redis URL safe to log and show: the password (and a user name) replaced by `***`. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}
