/** Lua of coordination between replicas: due sets, rate limits, leases (see script-registry.ts). */
import { REDIS_NOW_MS } from './clock.js';

/**
 * Members of a due set whose time has come, leased for `leaseMs` (their score moves to
 * now + lease) so a crashed taker does not lose them. KEYS: set. ARGV: now, limit, lease.
 */
export const TAKE_DUE_LUA = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local lease = tonumber(ARGV[1]) + tonumber(ARGV[3])
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], lease, m) end
return due
`;


/**
 * Takes one token from a bucket. Uses Redis' clock (TIME), not the replicas', so skewed
 * replica clocks cannot mint tokens.
 * KEYS: bucket. ARGV: perSecond, burst. Returns {1, 0} when allowed, {0, retryAfterMs} otherwise.
 */
export const TAKE_TOKEN_LUA = `${REDIS_NOW_MS}
local now = redis_now_ms()
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


/** KEYS: lease. ARGV: holder, ttlMs. Takes a free lease or renews our own. */
export const LEASE_LUA = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`;


/** KEYS: lease. ARGV: holder. Releases the lease when we hold it. */
export const LEASE_RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
