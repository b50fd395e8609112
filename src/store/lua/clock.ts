/**
 * Redis's own clock for the scripts that need one (leases, rate limits): replicas' clocks may
 * differ, Redis's is one. `redis_now_ms()` is `TIME` as epoch milliseconds.
 */
export const REDIS_NOW_MS = `
local function redis_now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;
