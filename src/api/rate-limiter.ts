/**
 * Optional per-token rate limit (`auth.rateLimit: {perSecond, burst}`): one token bucket per
 * token name, kept in Redis so every replica draws from the same bucket. Off when the
 * config has no `auth.rateLimit` (re-read on every request, so a reload applies at once).
 */
import type { RequestHandler } from 'express';
import type { Config } from '../config/schema.js';
import { RateLimitError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RateLimitStore } from '../store/rate-limit-store.js';

export interface RateLimiterDeps {
  buckets: RateLimitStore;
  config: () => Config;
  metrics: Metrics;
  logger: Logger;
}

export class RateLimiter {
  constructor(private readonly deps: RateLimiterDeps) {}

  /** Middleware for authenticated routes (after the principal is known). */
  middleware(): RequestHandler {
    return (req, _res, next) => {
      const limit = this.deps.config().auth.rateLimit;
      const principal = req.principal;
      if (!limit || !principal) {
        next();
        return;
      }
      this.deps.buckets
        .take(principal.name, limit)
        .then(({ allowed, retryAfterMs }) => {
          if (allowed) {
            next();
            return;
          }
          this.deps.metrics.rateLimited.inc({ token: principal.name });
          next(
            new RateLimitError(
              `token '${principal.name}' exceeded ${limit.perSecond} requests/s (burst ${limit.burst}); retry after the Retry-After seconds`,
              retryAfterMs / 1_000,
            ),
          );
        })
        .catch((err: Error) => {
          // The limiter protects the gateway; it must not make reads fail when its own
          // Redis call does. Those reads will meet the same Redis and answer for themselves.
          this.deps.logger.warn('rate limiter unavailable; request allowed', { error: err.message });
          next();
        });
    };
  }
}
