/**
 * Lua scripts of the store. Each runs atomically inside Redis, which is what makes
 * "two replicas observing the same change produce one event" true without locks.
 *
 * Keys beyond KEYS[] are derived from the prefix inside the scripts. That is valid on
 * Redis Cluster because the prefix is a hash tag: every key of a gateway lives in one slot.
 */
import { LEX_PAGE, RECORD_W } from './record.js';
import { FIRST_AFTER, STATE_SCORES } from './state-index.js';

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
local seen = {}
for i = 3, #ARGV do seen[ARGV[i]] = true end
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local k = prefix .. kind .. ':' .. id
  local rec = redis.call('HMGET', k, 'w', 'x', 'm')
  if not rec[1] then
    redis.call('ZREM', KEYS[1], id)
  elseif rec[2] ~= '1' then
    if seen[id] then
      if rec[3] and rec[3] ~= '0' then redis.call('HSET', k, 'm', 0) end
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
 * serve flag, tombstones ('1' includes deleted records; '' or absent includes them too,
 * for internal callers; '0' leaves them out), and banded ('1': the index is the state index,
 * whose ids in the filter's state are one band of equal scores, paged by rank; otherwise
 * every id has score 0 and is paged by lex range).
 * With serve '1' every doc is preceded by its id, w (version and observedAt ms, lua/record.ts),
 * tombstone flag, backend and group (what the API needs for `meta` and the ETag, without
 * parsing docs).
 * Returns {next cursor or '', doc…}, or when serving {next, n, scope, failure… (n pairs: the
 * refresh-failures hash, usually empty), id, w, x, bk, g, doc, …}; deployment docs carry
 * their instanceIds.
 */
export const PAGE_LUA = `${WITH_INSTANCE_IDS}${STATE_SCORES}${FIRST_AFTER}
local prefix, kind, cursor, limit, state = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local serve = ARGV[6] == '1'
local live_only = ARGV[7] == '0'
-- take(n): up to n more ids after the cursor; more(): whether any follow the last taken.
local take, more
if ARGV[8] == '1' then
  local rank, stop = 0, -1
  local score = STATE_SCORE[state]
  if score then
    rank = redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. score)
    stop = rank + redis.call('ZCOUNT', KEYS[1], score, score) - 1
    if cursor ~= '' then rank = first_after(KEYS[1], rank, stop + 1, cursor) end
  end
  take = function(n)
    if rank > stop then return {} end
    local last = math.min(rank + n - 1, stop)
    local ids = redis.call('ZRANGE', KEYS[1], rank, last)
    rank = last + 1
    return ids
  end
  more = function() return rank <= stop end
else
  local start = '-'
  if cursor ~= '' then start = '(' .. cursor end
  take = function(n)
    local ids = redis.call('ZRANGE', KEYS[1], start, '+', 'BYLEX', 'LIMIT', 0, n)
    if #ids > 0 then start = '(' .. ids[#ids] end
    return ids
  end
  more = function() return #redis.call('ZRANGE', KEYS[1], start, '+', 'BYLEX', 'LIMIT', 0, 1) > 0 end
end
local out = {''}
if serve then
  local failures = redis.call('HGETALL', prefix .. 'refresh-failures')
  out[2] = tostring(#failures / 2)
  for _, v in ipairs(failures) do out[#out + 1] = v end
end
local taken, last = 0, nil
while taken < limit do
  local ids = take(limit - taken)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local rec = redis.call('HMGET', prefix .. kind .. ':' .. id, 'j', 'st', 'w', 'x', 'bk', 'g')
    if rec[1] and (state == '' or rec[2] == state) and not (live_only and rec[4] == '1') then
      if serve then
        out[#out + 1] = id
        out[#out + 1] = rec[3]
        out[#out + 1] = rec[4] or '0'
        out[#out + 1] = rec[5] or ''
        out[#out + 1] = rec[6] or ''
      end
      if kind == 'd' then out[#out + 1] = with_instance_ids(prefix, id, rec[1]) else out[#out + 1] = rec[1] end
      taken = taken + 1
    end
    last = id
  end
end
if last and taken >= limit and more() then out[1] = last end
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
export const OLDEST_LUA = `${RECORD_W}
local oldest = false
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local w = redis.call('HGET', ARGV[1] .. 'i:' .. id, 'w')
  local ob = w and tonumber(w_observed_ms(w))
  if ob and (not oldest or ob < oldest) then oldest = ob end
end
return oldest
`;

/**
 * One deployment to serve: {doc with instanceIds, w (version and observedAt ms), tombstone
 * flag, backend, last refresh failure of the deployment or '', of its backend or
 * ''}, or false. KEYS: record. ARGV: prefix, id.
 */
export const SERVE_DEPLOYMENT_LUA = `${WITH_INSTANCE_IDS}
local rec = redis.call('HMGET', KEYS[1], 'j', 'w', 'x', 'bk')
if not rec[1] then return false end
local bk = rec[4] or ''
local f = redis.call('HMGET', ARGV[1] .. 'refresh-failures', 'd:' .. ARGV[2], 'b:' .. bk)
return {with_instance_ids(ARGV[1], ARGV[2], rec[1]), rec[2], rec[3] or '0', bk, f[1] or '', f[2] or ''}
`;

/**
 * One instance to serve, in one round trip: {served JSON, w (version and observedAt ms),
 * tombstone flag, backend, deployment, last refresh failure of its
 * deployment or '', of its backend or ''}, or false. KEYS: record. ARGV: prefix.
 */
export const SERVE_INSTANCE_LUA = `
local rec = redis.call('HMGET', KEYS[1], 'j', 'w', 'x', 'bk', 'g')
if not rec[1] then return false end
local bk, g = rec[4] or '', rec[5] or ''
local f = redis.call('HMGET', ARGV[1] .. 'refresh-failures', 'd:' .. g, 'b:' .. bk)
return {rec[1], rec[2], rec[3] or '0', bk, g, f[1] or '', f[2] or ''}
`;

/**
 * Removes tombstones deleted before a cutoff: the record and its index entries. A record
 * that came back to life meanwhile (no longer deleted) only leaves the tombstone index.
 * KEYS: tombstone index. ARGV: prefix, cutoff ms, limit. Returns how many were purged.
 */
export const PURGE_TOMBSTONES_LUA = `
local prefix = ARGV[1]
local purged = 0
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))) do
  local kind, id = string.sub(member, 1, 1), string.sub(member, 3)
  local key = prefix .. kind .. ':' .. id
  local rec = redis.call('HMGET', key, 'x', 'bk', 'g')
  if rec[1] == '1' then
    redis.call('DEL', key)
    redis.call('ZREM', prefix .. 'idx:' .. kind, id)
    if rec[2] then redis.call('ZREM', prefix .. 'b:' .. rec[2] .. ':' .. kind, id) end
    if kind == 'i' then
      if rec[3] then redis.call('ZREM', prefix .. 'd:' .. rec[3] .. ':i', id) end
      redis.call('ZREM', prefix .. 'st:i', id)
    end
    purged = purged + 1
  end
  redis.call('ZREM', KEYS[1], member)
end
return purged
`;

/**
 * Lists in the tombstone index the deleted records it does not hold: versions before
 * tombstones marked a deleted record (x = '1') without indexing it, so the purge never met
 * it and it stayed forever. Scored by its last observation, like a tombstone the observe
 * script indexes; members already listed keep their score (NX).
 * KEYS: index of the kind (all ids, score 0: lex paging), tombstone index. ARGV: prefix, kind,
 * cursor ('' = start), limit. Returns {next cursor or '', how many were added}.
 */
export const ADOPT_TOMBSTONES_LUA = `${RECORD_W}${LEX_PAGE}
local prefix, kind = ARGV[1], ARGV[2]
local ids, next = lex_page(KEYS[1], ARGV[3], tonumber(ARGV[4]))
local added = 0
for _, id in ipairs(ids) do
  local rec = redis.call('HMGET', prefix .. kind .. ':' .. id, 'x', 'w')
  if rec[1] == '1' then added = added + redis.call('ZADD', KEYS[2], 'NX', (rec[2] and w_observed_ms(rec[2])) or '0', kind .. ':' .. id) end
end
return {next, added}
`;

/**
 * Counts one chunk of the instance index after a lex cursor.
 * KEYS: instance index. ARGV: prefix, cursor ('' = start), chunk size, now ms, bucket bounds…
 * Returns {next id or '', vanished, bucket counts…}. Vanished instances (tombstones) are
 * counted apart: they are not refreshed any more, so their age says nothing.
 */
export const AGE_CHUNK_LUA = `${RECORD_W}${LEX_PAGE}
local ids, next = lex_page(KEYS[1], ARGV[2], tonumber(ARGV[3]))
local now = tonumber(ARGV[4])
local nb = #ARGV - 4
local counts = {}
for b = 1, nb + 1 do counts[b] = 0 end
local vanished = 0
for _, id in ipairs(ids) do
  local r = redis.call('HMGET', ARGV[1] .. 'i:' .. id, 'w', 'st')
  if r[2] == 'vanished' then
    vanished = vanished + 1
  elseif r[1] then
    local age = now - tonumber(w_observed_ms(r[1]))
    local b = nb + 1
    for i = 1, nb do
      if age < tonumber(ARGV[4 + i]) then b = i break end
    end
    counts[b] = counts[b] + 1
  end
end
local out = {next, vanished}
for b = 1, nb + 1 do out[#out + 1] = counts[b] end
return out
`;
