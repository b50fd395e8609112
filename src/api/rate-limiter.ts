/**
 * Optional per-token rate limit (`auth.rateLimit: {perSecond, burst}`): one token bucket per
 * token name, kept in Redis so every replica draws from the same bucket. Off when the
 * config has no `auth.rateLimit` (re-read on every request, so a reload applies at once).
 */
import type { RequestHandler } from 'express';
import type { Redis, Result } from 'ioredis';
import type { Gateway } from '../gateway.js';
import { RateLimitError } from '../errors.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    hgwTakeToken(...args: (string | number)[]): Result<[number, number], Context>;
  }
}

/**
 * Takes one token from a bucket. Uses Redis' clock (TIME), not the replicas', so skewed
 * replica clocks cannot mint tokens.
 * KEYS: bucket. ARGV: perSecond, burst. Returns {1, 0} when allowed, {0, retryAfterMs} otherwise.
 */
export const TAKE_TOKEN_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'n', 't')
local tokens, ts = tonumber(b[1]), tonumber(b[2])
if not tokens then tokens, ts = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local allowed, retry = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'n', tostring(tokens), 't', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, retry}
`;

export class RateLimiter {
  constructor(private readonly gateway: Gateway) {
    const redis: Redis = gateway.redis;
    const command: string = 'hgwTakeToken';
    if (!(command in redis)) redis.defineCommand(command, { lua: TAKE_TOKEN_LUA, numberOfKeys: 1 });
  }

  /** Middleware for authenticated routes (after the principal is known). */
  middleware(): RequestHandler {
    return (req, _res, next) => {
      const limit = this.gateway.config.auth.rateLimit;
      const principal = req.principal;
      if (!limit || !principal) {
        next();
        return;
      }
      this.gateway.redis
        .hgwTakeToken(this.gateway.store.keys.other(`rl:${principal.name}`), limit.perSecond, limit.burst)
        .then(([allowed, retryAfterMs]) => {
          if (allowed === 1) {
            next();
            return;
          }
          this.gateway.metrics.rateLimited.inc({ token: principal.name });
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
          this.gateway.logger.warn('rate limiter unavailable; request allowed', { error: err.message });
          next();
        });
    };
  }
}
