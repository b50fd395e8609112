/**
 * The state index: one sorted set, `st:i`, holding every instance id scored by its state's
 * position in {@link INSTANCE_STATES}. An instance changing state is one `ZADD` that moves
 * its score, where a set per state (`s:<state>`, store layout 2) took a `ZREM` and a `ZADD`:
 * one command fewer on the observe script's most common change, ~1.3 µs of Redis's ~16 per
 * change (docs/benchmarks.md). The ids in one state are a band of equal scores, in id order;
 * a listing finds its cursor's rank in the band and pages by rank (PAGE_LUA).
 */
import { INSTANCE_STATES } from '../../model/states.js';

/**
 * `STATE_SCORE[state]`: the state's score as a string (scripts hand strings to redis.call,
 * which would format a Lua number with sprintf). `UNKNOWN_SCORE` for anything else.
 */
export const STATE_SCORES = `
local STATE_SCORE = {${INSTANCE_STATES.map((s, i) => `${s}='${i}'`).join(', ')}}
local UNKNOWN_SCORE = STATE_SCORE['unknown']
`;

/**
 * `first_after(key, a, b, cursor)`: the first rank in [a, b) of `key` whose member sorts
 * after `cursor`, by binary search over ranks (the members of [a, b) share a score, so they
 * are in Redis's byte order). Compared byte by byte: Lua's `<` goes through strcoll, which
 * follows the locale Redis was started in, not the order Redis keeps.
 */
export const FIRST_AFTER = `
local function bytes_after(x, y)
  local n = math.min(#x, #y)
  for i = 1, n do
    local a, b = string.byte(x, i), string.byte(y, i)
    if a ~= b then return a > b end
  end
  return #x > #y
end
local function first_after(key, a, b, cursor)
  while a < b do
    local m = math.floor((a + b) / 2)
    if bytes_after(redis.call('ZRANGE', key, m, m)[1], cursor) then b = m else a = m + 1 end
  end
  return a
end
`;

/**
 * Moves up to ARGV[2] ids from store layout 2's sets per state (`s:<state>`) into the state
 * index, each scored by its record's state now (a record already gone is dropped). Idempotent:
 * a gateway runs it at start until it moves fewer than asked (store-layout.ts).
 * KEYS: state index. ARGV: prefix, batch. Returns how many ids it took from the old sets.
 */
export const ADOPT_STATE_SETS_LUA = `${STATE_SCORES}
local prefix, batch = ARGV[1], tonumber(ARGV[2])
local taken = 0
for state in pairs(STATE_SCORE) do
  local set = prefix .. 's:' .. state
  while taken < batch do
    local ids = redis.call('ZRANGE', set, 0, batch - taken - 1)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      local st = redis.call('HGET', prefix .. 'i:' .. id, 'st')
      if st then redis.call('ZADD', KEYS[1], STATE_SCORE[st] or UNKNOWN_SCORE, id) end
    end
    redis.call('ZREM', set, unpack(ids))
    taken = taken + #ids
  end
end
return taken
`;
