/**
 * The record's bookkeeping field `w`, as the scripts read it, and the move of records of an
 * earlier layout into this one (store layout 4, store-layout.ts).
 *
 * `w` is `u|cl|bkk|ob|v`: the backend's updatedAt ms ('' = none), the length of the content
 * inside the document `j`, the observing backend's kind, the observedAt ms and the version.
 * The observedAt ISO is the document's own (its tail is `,"observedAt":"<ISO>","version":<v>}`).
 * Before layout 4 the version and both observedAt forms were fields of their own (`v`, `ob`,
 * `o`); packed here, a change costs Redis six fewer HSET arguments and a record three fewer
 * hash fields.
 */

/**
 * `string.match(w, W_FIELDS)`: u, cl, bkk, ob and v, or nil for a `w` of an earlier layout;
 * `w_observed_ms(w)`: the observedAt ms, as the string stored.
 */
export const RECORD_W = `
local W_FIELDS = '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$'
local function w_observed_ms(w)
  return string.match(w, '^[^|]*|[^|]*|[^|]*|([^|]*)|')
end
`;

/**
 * `upgrade_record(key)`: rewrites a record of an earlier layout in this one; false when there
 * is none or it is already. Two earlier layouts: `w` as `u|cl|bkk` with `v`, `ob`, `o`; and,
 * before `w`, `c` (the content), `uj`, `s`, `u`, `bkk` with the same three.
 */
export const UPGRADE_RECORD = `
local function upgrade_record(key)
  local r = redis.call('HMGET', key, 'v', 'ob', 'w', 'c', 'u', 'bkk')
  local v, ob, w = r[1], r[2], r[3]
  if not v then return false end
  if not w then w = (r[5] or '') .. '|' .. #(r[4] or '') .. '|' .. (r[6] or '') end
  redis.call('HSET', key, 'w', w .. '|' .. (ob or '0') .. '|' .. v)
  redis.call('HDEL', key, 'v', 'ob', 'o', 'c', 'uj', 's', 'u', 'bkk')
  return true
end
`;

/**
 * `lex_page(index, cursor, limit)`: up to `limit` ids of a record index (every id scored 0,
 * so in lex order) after `cursor` ('' = from the start), and the next page's cursor: the last
 * id, or '' when the page came out short and the index is done. The walks over every record
 * (the layout move here, the tombstone adoption and the age histogram in lua/cache.ts) page
 * with it.
 */
export const LEX_PAGE = `
local function lex_page(index, cursor, limit)
  local from = '-'
  if cursor ~= '' then from = '(' .. cursor end
  local ids = redis.call('ZRANGE', index, from, '+', 'BYLEX', 'LIMIT', 0, limit)
  local next = ''
  if #ids == limit then next = ids[#ids] end
  return ids, next
end
`;

/**
 * Moves up to ARGV[3] records of an index after a lex cursor into this layout.
 * KEYS: index of the kind (idx:i or idx:d). ARGV: prefix, kind, batch, cursor ('' = start).
 * Returns {next cursor or '' when the index is done, how many were rewritten}.
 */
export const UPGRADE_RECORDS_LUA = `${UPGRADE_RECORD}${LEX_PAGE}
local prefix, kind = ARGV[1], ARGV[2]
local ids, next = lex_page(KEYS[1], ARGV[4], tonumber(ARGV[3]))
local upgraded = 0
for _, id in ipairs(ids) do
  if upgrade_record(prefix .. kind .. ':' .. id) then upgraded = upgraded + 1 end
end
return {next, upgraded}
`;
