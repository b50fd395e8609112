/**
 * Errors that mean "Redis is not answering right now" rather than "this request is wrong":
 * a connection that is down or closed, a command that ran out of retries, a Sentinel or
 * Cluster failover in progress. The HTTP layer answers them with 503 and Retry-After.
 */
const UNAVAILABLE = [
  /^Connection is closed/,
  /^Reached the max retries per request limit/,
  /^Stream isn't writeable and enableOfflineQueue options is false/,
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH/,
  // Sentinel: the old primary is now a replica, or it refuses writes without its replicas.
  /^READONLY /,
  /^NOREPLICAS /,
  /^LOADING /,
  /^MASTERDOWN /,
  // Cluster: a slot's primary is being replaced.
  /^CLUSTERDOWN /,
  /^TRYAGAIN /,
  /^Too many Cluster redirections/,
  /^Failed to refresh slots cache/,
  /^None of startup nodes is available/,
  /^All sentinels are unreachable/,
];

export function isRedisUnavailableError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  return UNAVAILABLE.some((pattern) => pattern.test(err.message));
}
