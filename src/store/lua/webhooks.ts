/** Lua of the webhook registry (see script-registry.ts); the delivery log's is in deliveries.ts. */

/** KEYS: endpoint, version. ARGV: expected JSON ('' = must not exist), new JSON. */
export const CAS_LUA = `
local cur = redis.call('GET', KEYS[1])
if (cur or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('INCR', KEYS[2])
return 1
`;

/**
 * `feed_last_id(key)`: the stream's last generated id ('0-0' when it does not exist). A new
 * endpoint's `startCursor` and the fan-out's skip both take it, so they agree on the position.
 */
const FEED_LAST_ID = `
local function feed_last_id(key)
  local ok, info = pcall(redis.call, 'XINFO', 'STREAM', key)
  if ok then
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then return info[i + 1] end
    end
  end
  return '0-0'
end`;

/**
 * Creates an endpoint whose `startCursor` is the feed's last id at that very moment: reading
 * the position, saving, indexing and bumping the registry version are one atomic step, so
 * every event appended later is fanned out with the endpoint already visible (fan-out reads
 * events first and the registry second).
 * KEYS: endpoint, version, index, feed. ARGV: endpoint JSON with the placeholder, id, placeholder.
 */
export const CREATE_LUA = `${FEED_LAST_ID}
local start = feed_last_id(KEYS[4])
local json = ARGV[1]
local at = string.find(json, ARGV[3], 1, true)
json = string.sub(json, 1, at - 1) .. start .. string.sub(json, at + #ARGV[3])
redis.call('SET', KEYS[1], json)
redis.call('ZADD', KEYS[3], 0, ARGV[2])
redis.call('INCR', KEYS[2])
return start
`;


/**
 * The fan-out's skip while no endpoint is enabled: moves the consumer group's last-delivered
 * id to the feed's last id, so the entries appended so far are never read, only when every
 * endpoint in the index is disabled (or there is none): a disabled endpoint is sent nothing,
 * so reading the feed for it is wasted. An endpoint is disabled while its health hash
 * holds `da`. CREATE_LUA reads that same last id (feed_last_id) as a new
 * endpoint's `startCursor`, and re-enabling removes `da` in one transaction; so either the
 * creation or re-enabling comes first (an endpoint is enabled: nothing skipped) or the skip
 * does (every skipped entry is at or before the endpoint's start or re-enabling, which it
 * must not receive). Pending entries are left alone (XAUTOCLAIM).
 * KEYS: feed, endpoint index. ARGV: consumer group, then an endpoint's health key before and
 * after its id (WebhookKeys.healthAroundId). Returns the group's new position, or nil when
 * an endpoint is enabled.
 */
export const SKIP_LUA = `${FEED_LAST_ID}
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if redis.call('HEXISTS', ARGV[2] .. id .. ARGV[3], 'da') == 0 then return false end
end
local last = feed_last_id(KEYS[1])
redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], last)
return last
`;
