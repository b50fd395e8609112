/**
 * Lua scripts of the store. Each runs atomically inside Redis, which is what makes
 * "two replicas observing the same change produce one event" true without locks.
 *
 * Keys beyond KEYS[] are derived from the prefix inside the scripts. That is valid on
 * Redis Cluster because the prefix is a hash tag: every key of a gateway lives in one slot.
 */

/** Splices `"instanceIds":[…]` (from the deployment's index) into a stored deployment document. */
export const WITH_INSTANCE_IDS = `
local function with_instance_ids(prefix, id, j)
  local ids = redis.call('ZRANGE', prefix .. 'd:' .. id .. ':i', 0, -1)
  local arr = '[]'
  if #ids > 0 then arr = cjson.encode(ids) end
  return string.sub(j, 1, -2) .. ',"instanceIds":' .. arr .. '}'
end
`;

/**
 * A complete listing of a scope (a deployment's instances, a backend's instances or
 * deployments) saw `seen`. Members of the scope that were not seen get their miss counter
 * bumped; seen ones get it reset. Returns `id, misses, id, misses…` for every unseen member;
 * callers treat two consecutive misses as gone (and may confirm a first miss with the
 * backend), observing them through the one write path.
 *
 * KEYS: scope index. ARGV: prefix, kind, seen ids…
 */
export const MISSING_LUA = `
local prefix, kind = ARGV[1], ARGV[2]
-- A tombstone (vanished instance, deleted deployment) is never missed again.
local gone = 'DELETE_COMPLETE'
if kind == 'i' then gone = 'vanished' end
local seen = {}
for i = 3, #ARGV do seen[ARGV[i]] = true end
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local k = prefix .. kind .. ':' .. id
  local rec = redis.call('HMGET', k, 'v', 'st', 'm')
  if not rec[1] then
    redis.call('ZREM', KEYS[1], id)
  elseif rec[2] ~= gone then
    if seen[id] then
      if rec[3] then redis.call('HDEL', k, 'm') end
    else
      out[#out + 1] = id
      out[#out + 1] = tostring(redis.call('HINCRBY', k, 'm', 1))
    end
  end
end
return out
`;

/**
 * One page of records from an index, in id order, optionally filtered by state.
 * KEYS: index. ARGV: prefix, kind, cursor ('' = start), limit, state filter ('' = any),
 * and optionally '1' to serve: then every doc is preceded by its id, version, observedAt
 * ms, observedAt ISO and backend id (what the API needs for `meta` and the ETag, without parsing docs).
 * Returns {next cursor or '', doc…} (or {next, id, v, ob, o, bk, doc, …} when serving);
 * deployment docs carry their instanceIds.
 */
export const PAGE_LUA = `${WITH_INSTANCE_IDS}
local prefix, kind, cursor, limit, state = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local serve = ARGV[6] == '1'
local start = '-'
if cursor ~= '' then start = '(' .. cursor end
local out = {''}
local taken, last = 0, nil
while taken < limit do
  local ids = redis.call('ZRANGE', KEYS[1], start, '+', 'BYLEX', 'LIMIT', 0, limit - taken)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local rec = redis.call('HMGET', prefix .. kind .. ':' .. id, 'j', 'st', 'v', 'ob', 'o', 'bk')
    if rec[1] and (state == '' or rec[2] == state) then
      if serve then
        out[#out + 1] = id
        out[#out + 1] = rec[3]
        out[#out + 1] = rec[4]
        out[#out + 1] = rec[5]
        out[#out + 1] = rec[6] or ''
      end
      if kind == 'd' then out[#out + 1] = with_instance_ids(prefix, id, rec[1]) else out[#out + 1] = rec[1] end
      taken = taken + 1
    end
    last = id
  end
  start = '(' .. last
end
if last and taken >= limit and #redis.call('ZRANGE', KEYS[1], '(' .. last, '+', 'BYLEX', 'LIMIT', 0, 1) > 0 then
  out[1] = last
end
return out
`;

/** One deployment document with its instanceIds. KEYS: record. ARGV: prefix, id. */
export const GET_DEPLOYMENT_LUA = `${WITH_INSTANCE_IDS}
local j = redis.call('HGET', KEYS[1], 'j')
if not j then return false end
return with_instance_ids(ARGV[1], ARGV[2], j)
`;

/**
 * The oldest observation time (ms) over all instances, or false when there are none; for
 * status pages (O(n), not for hot paths). KEYS: instance index. ARGV: prefix.
 */
export const OLDEST_LUA = `
local oldest = false
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local ob = tonumber(redis.call('HGET', ARGV[1] .. 'i:' .. id, 'ob'))
  if ob and (not oldest or ob < oldest) then oldest = ob end
end
return oldest
`;

/**
 * One deployment to serve: {doc with instanceIds, version, observedAt ms, observedAt ISO},
 * or false. KEYS: record. ARGV: prefix, id.
 */
export const SERVE_DEPLOYMENT_LUA = `${WITH_INSTANCE_IDS}
local rec = redis.call('HMGET', KEYS[1], 'j', 'v', 'ob', 'o')
if not rec[1] then return false end
return {with_instance_ids(ARGV[1], ARGV[2], rec[1]), rec[2], rec[3], rec[4]}
`;

/**
 * Counts one chunk of the instance index after a lex cursor.
 * KEYS: instance index. ARGV: prefix, cursor ('' = start), chunk size, now ms, bucket bounds…
 * Returns {next id or '', vanished, bucket counts…}. Vanished instances (tombstones) are
 * counted apart: they are not refreshed any more, so their age says nothing.
 */
export const AGE_CHUNK_LUA = `
local from = '-'
if ARGV[2] ~= '' then from = '(' .. ARGV[2] end
local ids = redis.call('ZRANGEBYLEX', KEYS[1], from, '+', 'LIMIT', 0, tonumber(ARGV[3]))
local now = tonumber(ARGV[4])
local nb = #ARGV - 4
local counts = {}
for b = 1, nb + 1 do counts[b] = 0 end
local vanished = 0
for _, id in ipairs(ids) do
  local r = redis.call('HMGET', ARGV[1] .. 'i:' .. id, 'ob', 'st')
  if r[2] == 'vanished' then
    vanished = vanished + 1
  elseif r[1] then
    local age = now - tonumber(r[1])
    local b = nb + 1
    for i = 1, nb do
      if age < tonumber(ARGV[4 + i]) then b = i break end
    end
    counts[b] = counts[b] + 1
  end
end
local next = ''
if #ids == tonumber(ARGV[3]) then next = ids[#ids] end
local out = {next, vanished}
for b = 1, nb + 1 do out[#out + 1] = counts[b] end
return out
`;
