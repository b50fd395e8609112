/**
 * The one place a feed event is written. Every script that appends to the feed (an observed
 * change, a strategy switch, any other gateway event) includes {@link APPEND_EVENT} and calls
 * `append_event`, so every entry has the same stream fields, and the one reader
 * (`toEntry` in change-feed.ts) turns them into the envelope `{id, type, occurredAt, data}`:
 *   t type, k subject, g deployment ('' for gateway events), i event id, a occurredAt ISO,
 *   then either c and p (a cache change: data is `{"current":<c>,"previous":<p>}`, p '' =
 *   null) or d (any other event: data as given).
 * A change's data is not built here: the script would copy both documents twice more (into
 * the data, then into the envelope), and Lua interns every string it makes; XADD stores the
 * two documents as they are. Entries written before this layout carry the whole event in `e`.
 */

/**
 * `append_event(feed, id, type, occurredAt, subject, group, maxLength, minId, data, current,
 * previous)`: appends one event and returns its cursor. `data` is the event's data JSON, or
 * nil for a cache change, whose data is `current` and `previous` (nil for none). Retention
 * (by count and by age) is applied at once, unless `maxLength` is nil: a script appending
 * many events (a batch of observations) passes nil and calls `trim_feed(feed, maxLength,
 * minId)` once after the last, which leaves the same feed when the script returns (scripts
 * are atomic) for one trim, not one per event.
 */
export const APPEND_EVENT = `
local function trim_feed(feed, maxlen, minid)
  redis.call('XTRIM', feed, 'MAXLEN', '~', maxlen)
  redis.call('XTRIM', feed, 'MINID', '~', minid)
end
local function append_event(feed, id, etype, occurred, subject, group, maxlen, minid, data, current, previous)
  local cursor
  if data then
    cursor = redis.call('XADD', feed, '*', 't', etype, 'k', subject, 'g', group, 'i', id, 'a', occurred, 'd', data)
  else
    cursor = redis.call('XADD', feed, '*', 't', etype, 'k', subject, 'g', group, 'i', id, 'a', occurred, 'c', current, 'p', previous or '')
  end
  if maxlen then trim_feed(feed, maxlen, minid) end
  return cursor
end
`;

/**
 * Appends an event that is not a cache change (`webhook.disabled`, tests' synthetic events).
 * KEYS: feed. ARGV: id, type, occurredAt ISO, data JSON, subject, group, max length, min id.
 */
export const APPEND_LUA = `${APPEND_EVENT}
return append_event(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[4])
`;

/**
 * Records the strategy in force for a scope: '' is the default, a backend id that backend's
 * override (name '' removes it: the backend follows the default again). When the strategy a
 * scope effectively runs changes, appends one `gateway.strategy_changed` event (with
 * `backendId` for a backend) and announces it, all in one atomic step, so replicas racing on
 * one change produce one event.
 * KEYS: state hash, feed. ARGV: scope, name, by (JSON), config name, now ISO, event id, feed
 * max length, feed min id, channel. Fields are `name`, `since`, `by`, `configName`, suffixed
 * with `:<scope>` for a backend.
 * Returns {changed 0|1, previous recorded name or '', event appended 0|1}.
 */
export const SWITCH_STRATEGY_LUA = `${APPEND_EVENT}
local scope, name = ARGV[1], ARGV[2]
local sfx = ''
if scope ~= '' then sfx = ':' .. scope end
local old = redis.call('HGET', KEYS[1], 'name' .. sfx) or ''
redis.call('HSET', KEYS[1], 'configName' .. sfx, ARGV[4])
if old == name then return {0, old} end
if name == '' then
  redis.call('HDEL', KEYS[1], 'name' .. sfx, 'since' .. sfx, 'by' .. sfx)
else
  redis.call('HSET', KEYS[1], 'name' .. sfx, name, 'since' .. sfx, ARGV[5], 'by' .. sfx, ARGV[3])
end
local previous, current = old, name
if scope ~= '' then
  local default = redis.call('HGET', KEYS[1], 'name') or ''
  if previous == '' then previous = default end
  if current == '' then current = default end
end
local appended = 0
if previous ~= '' and previous ~= current then
  appended = 1
  local data = '{"current":{"strategy":"' .. current .. '"},"previous":{"strategy":"' .. previous .. '"},"by":' .. ARGV[3]
  if scope ~= '' then data = data .. ',"backendId":' .. cjson.encode(scope) end
  append_event(KEYS[2], ARGV[6], 'gateway.strategy_changed', ARGV[5], '', '', ARGV[7], ARGV[8], data .. '}')
end
redis.call('PUBLISH', ARGV[9], scope .. '=' .. name)
return {1, old, appended}
`;
