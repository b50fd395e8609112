/**
 * The observe script: the one write path of the cache. Each call runs atomically inside
 * Redis, which is what makes "two replicas observing the same change produce one event" true
 * without locks. One call takes a batch of observations (of one caller, one context): a
 * batch is one EVALSHA instead of one per observation, which is most of the cost of a large
 * listing; the observations of a batch are applied in order, each exactly as if alone.
 *
 * Keys beyond KEYS[] are derived from the prefix inside the script. That is valid on Redis
 * Cluster because the prefix is a hash tag: every key of a gateway lives in one slot.
 *
 * A record is a hash; the fields are kept few, since in a hash too large for a listpack
 * every field costs a dict entry and two allocations:
 *   j   the served document: `{<content>,"updatedAt":…,"source":…,"observedAt":…,"version":…}`
 *   w   packed as `u|cl|bkk|ob|v` (lua/record.ts): backend updatedAt ms ('' = none), length
 *       of <content> inside j (the members that define "a change", so they are not stored
 *       twice), observing backend's kind, observedAt ms, version (the last two read by the
 *       API with j, whose tail holds the observedAt ISO)
 *   bk  observing backend id; st  canonical state or stack status; g  group; x  '1' on a
 *       tombstone, absent otherwise (read by paging, listings, serving and the tombstone purge)
 *   m   consecutive misses (absent = 0); written by MISSING_LUA
 * A tombstone (x = '1') is also listed in `tomb`, scored by its observation time, for the purge.
 * A record of an earlier layout (store-layout.ts moves them all at start) is rewritten in this
 * one before it is read.
 */
import { UNASSIGNED_DEPLOYMENT } from '../../model/types.js';
import { WITH_INSTANCE_IDS } from './cache.js';
import { APPEND_EVENT } from './feed.js';
import { RECORD_W, UPGRADE_RECORD } from './record.js';
import { STATE_SCORES } from './state-index.js';

/** Arguments per observation after the shared ones (see OBSERVE_LUA). */
export const OBSERVE_ARGS_PER_ITEM = 7;

/**
 * KEYS: feed (the records are `<prefix><kind>:<id>`, derived like the index keys).
 * ARGV: prefix, feed max length, feed min id, source JSON literal, observedAt ISO,
 * observedAt ms, the backends whose observations are live (`,a,b,`; '' = no ownership),
 * kind of every observation of the call (`i` or `d`), then per observation: id, group
 * (deployment id of an instance; the id itself for a deployment), backend, status (canonical
 * state / raw stack status; `vanished` / `DELETE_COMPLETE` says it is gone), content,
 * updatedAt JSON literal, and `<updatedAt ms or ''>|<event id>|<occurredAt ISO>|<observing
 * backend's kind>|<observedAt ms>|<observedAt ISO>` (none of which can hold a '|'; one
 * argument instead of six, since every argument costs Redis an object, a Lua string and a
 * table slot, and the caller its encoding). The observedAt pair is the observation's own
 * time (a pushed notification's): '' and '' take the call's, an ISO of '' is occurredAt's.
 *
 * Kind `p` is a pushed instance: a patch of the cached record (`instance-push.ts`), with the
 * same seven arguments read differently: id, `s` when the push names a stack ('' otherwise),
 * backend, state, `<raw status JSON>\n<backend id JSON>\n<public JSON or ''>\n<private JSON or
 * ''>` (JSON holds no raw newline; '' keeps the cached addresses), the updatedAt JSON literal
 * ('' keeps the cached one, with its backend time), and the packed last argument with the
 * occurredAt ISO '' when the updatedAt is kept and the backend kind '' (the record's). The
 * deployment, name and backend kind are the record's, so the gateway sends what the
 * notification says and never reads the cached document first. Outcome 5: nothing to patch
 * (no record, or a record without a deployment while the push names a stack); the caller
 * asks the backend instead.
 *
 * Returns one string: per observation, outcome, version, cursor and event type ('' for none),
 * all joined by spaces (none can hold one). One bulk reply instead of four per observation
 * spares the gateway's RESP decoding ~1.5 µs per observation; each is a string already, since
 * joining a Lua number formats it with sprintf. Outcome 0 stale (older than stored),
 * 1 refreshed (identical), 2 changed (event appended), 3 ignored (first sighting of
 * something already gone), 4 not the owner (another live backend owns the instance; its id
 * in place of the cursor), 5 nothing to patch (kind `p` only).
 *
 * Ordering: when the stored record and the observation come from the same backend and both
 * carry a backend time, the backend time decides; otherwise the gateway's observation time.
 * An equal backend time falls back to the observation time. Each observation of a call is
 * ordered by its own time, so a batch of pushes is applied as the pushes would be one by one.
 */
export const OBSERVE_LUA = `${WITH_INSTANCE_IDS}${APPEND_EVENT}${STATE_SCORES}${RECORD_W}${UPGRADE_RECORD}
local feed = KEYS[1]
-- Numbers are compared as numbers but written as the strings they came as: a Lua number
-- handed to redis.call or joined to a string is formatted by sprintf, which showed in profiles.
-- They are parsed only where compared, after equal strings are ruled out, and by arithmetic
-- (s + 0): a conversion is strtod, ~550 instructions for a 13-digit time, and Lua 5.1's
-- tonumber converts twice (once to check, once to convert).
local prefix, maxlen, minid, src, call_o, call_obs, live, kind =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local patch = kind == 'p'
if patch then kind = 'i' end
local UPDATED = ',"updatedAt":'
-- What an observation that says the thing is gone carries as its status.
local GONE = (kind == 'i') and 'vanished' or 'DELETE_COMPLETE'
-- The call's event types, made once (a string Lua makes per change is hashed per change).
local EVENT = (kind == 'i') and
  {created = 'instance.created', deleted = 'instance.deleted', changed = 'instance.state_changed', updated = 'instance.updated'} or
  {created = 'deployment.created', deleted = 'deployment.deleted', changed = 'deployment.status_changed', updated = 'deployment.updated'}
-- Integers as strings: '%d' formats one in half the time tostring's '%.14g' takes.
local fmt = string.format

-- A document's content is head .. content: a push's head is cut from the record (patched),
-- an observation's is ''. Kept apart, so the two are never joined into one more string that
-- Lua would intern (Redis's Lua hashes every byte of every string it makes).
local function doc(head, content, uj, o_, v)
  return '{' .. head .. content .. UPDATED .. uj .. ',"source":' .. src .. ',"observedAt":"' .. o_ .. '","version":' .. v .. '}'
end

-- A push (kind p): the record's content with what the push says in place of its state,
-- backend and addresses, returned as head (the record's content up to its state) and the
-- rest. The stored content is read in place: ',"state":"' and the address members can occur
-- only where the document puts them (a '"' inside a JSON string is escaped).
local function patched(oj, ocl, obkk, status, says)
  local rs, bj, pub, priv = string.match(says, '^([^\\n]*)\\n([^\\n]*)\\n([^\\n]*)\\n(.*)$')
  local s1 = string.find(oj, ',"state":"', 2, true)
  local a1 = string.find(oj, ',"addresses":{"public":', s1, true)
  local p1 = string.find(oj, ',"private":', a1 + 23, true)
  if pub == '' then pub = string.sub(oj, a1 + 23, p1 - 1) end
  if priv == '' then priv = string.sub(oj, p1 + 11, ocl) end
  return string.sub(oj, 2, s1 - 1), ',"state":"' .. status .. '","backend":{"id":' .. bj .. ',"kind":"' .. obkk ..
    '","status":' .. rs .. '},"addresses":{"public":' .. pub .. ',"private":' .. priv .. '}'
end

-- Score and id pairs for the state index, written once per call: a ZADD of many pairs costs
-- Redis one command's overhead (arguments, lookup, reply) instead of one per change. A call
-- holds at most OBSERVE_BATCH (100) observations, far within what unpack can spread (~8,000).
local moved = {}
local function index_states()
  if #moved > 0 then redis.call('ZADD', prefix .. 'st:i', unpack(moved)) end
end

local function observe(id, group, backend, status, content, uj, meta)
  local head = ''
  local us, evid, occurred, okind, own_obs, own_o = string.match(meta, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
  -- The observation's own time when it has one (a push's), else the call's.
  local obs, o = call_obs, call_o
  if own_obs ~= '' then
    obs = own_obs
    if own_o ~= '' then o = own_o else o = occurred end
  end
  local key = prefix .. kind .. ':' .. id
  local deleted = status == GONE
  local old = redis.call('HMGET', key, 'j', 'w', 'bk', 'st', 'm', 'g', 'x')
  local oj, ow, obk, ost, om, og, ox = old[1], old[2], old[3], old[4], old[5], old[6], old[7]
  local ous, ocls, obkk, oobs, ovs
  if oj then
    ous, ocls, obkk, oobs, ovs = string.match(ow or '', W_FIELDS)
    if not ovs then
      -- A record of an earlier layout: rewritten in this one first.
      upgrade_record(key)
      ous, ocls, obkk, oobs, ovs = string.match(redis.call('HGET', key, 'w'), W_FIELDS)
    end
  end
  local ocl = ocls and ocls + 0
  if patch then
    if not oj or (group == 's' and og == '${UNASSIGNED_DEPLOYMENT}') then return '5', ovs or '0', '' end
    group, okind = og, obkk
    head, content = patched(oj, ocl, obkk, status, content)
    if uj == '' then
      -- No time in the push: the record's updatedAt (and backend time) stand.
      local at = ocl + 2 + #UPDATED
      uj, us = string.sub(oj, at, string.find(oj, ',', at, true) - 1), ous
      if occurred == '' then
        if uj == 'null' then occurred = o else occurred = string.sub(uj, 2, -2) end
      end
    end
  end
  -- Whether the stored content (the document's first ocl bytes after '{') is this one:
  -- compared in place, since cutting it out would make Lua intern a copy of it (a push's
  -- head is the record's own).
  local cl = #head + #content
  local same = false
  if oj and ocl == cl then same = string.find(oj, content, 2 + #head, true) == 2 + #head end

  -- Ownership: an instance belongs to the backend that saw it first from a Heat stack, else
  -- to the Deltacloud backend that saw it. While its owner is read, another backend's view is
  -- ignored (a Heat backend takes an instance over from a Deltacloud one).
  if kind == 'i' and oj and obk and obk ~= backend and live ~= '' and string.find(live, ',' .. obk .. ',', 1, true) then
    if not (okind == 'heat' and obkk ~= 'heat') then return '4', ovs, obk end
  end

  if oj then
    local older
    if obk == backend and us ~= '' and ous ~= '' and us ~= ous then older = us + 0 < ous + 0
    elseif obs ~= oobs then older = obs + 0 < (oobs or 0) + 0 end
    -- An older observation of the same content still confirms it: it refreshes observedAt
    -- below (a resync's listing is older than the push it confirms, by backend time).
    if older and not same then return '0', ovs, '' end
  elseif deleted then
    return '3', '0', ''
  end

  if same then
    -- Identical: refresh observedAt (never backwards), no version bump, no event.
    local nob, no_ = obs, o
    if oobs + 0 > obs + 0 then
      -- The stored observedAt stands: its ISO is the document's, before ',"version":<v>}'.
      local e = #oj - #ovs - 13
      nob, no_ = oobs, string.sub(oj, string.find(oj, ',"observedAt":"', e - 45, true) + 15, e)
    end
    local nus, nuj = us, uj
    if ous ~= '' and (us == '' or ous + 0 > us + 0) then
      -- Keep the stored updatedAt literal, cut out of the document.
      local at = ocl + 2 + #UPDATED
      nus, nuj = ous, string.sub(oj, at, string.find(oj, ',', at, true) - 1)
    end
    redis.call('HSET', key, 'j', doc(head, content, nuj, no_, ovs), 'w', nus .. '|' .. ocls .. '|' .. obkk .. '|' .. nob .. '|' .. ovs)
    if om then redis.call('HDEL', key, 'm') end
    return '1', ovs, ''
  end

  local v = (ovs or 0) + 1
  local vs = fmt('%d', v)
  local j = doc(head, content, uj, o, vs)
  local etype
  if not oj then etype = EVENT.created
  elseif deleted and ox ~= '1' then etype = EVENT.deleted
  elseif status ~= ost then etype = EVENT.changed
  else etype = EVENT.updated end

  local w = us .. '|' .. fmt('%d', cl) .. '|' .. okind .. '|' .. obs .. '|' .. vs
  -- Only the fields that change: a state change is the common case, a move the rare one.
  if obk ~= backend or og ~= group then
    redis.call('HSET', key, 'j', j, 'w', w, 'bk', backend, 'st', status, 'g', group)
  elseif ost ~= status then
    redis.call('HSET', key, 'j', j, 'w', w, 'st', status)
  else
    redis.call('HSET', key, 'j', j, 'w', w)
  end
  -- x only on a tombstone: a live record keeps its five fields (j, w, bk, st, g), and a
  -- hash table of 8 buckets holds those, x and m without growing.
  if deleted then redis.call('HSET', key, 'x', '1') elseif ox then redis.call('HDEL', key, 'x') end
  if om then redis.call('HDEL', key, 'm') end

  if not oj then redis.call('ZADD', prefix .. 'idx:' .. kind, '0', id) end
  -- Tombstones: a deleted record is kept (and listed only on request) until it is purged.
  if deleted and ox ~= '1' then redis.call('ZADD', prefix .. 'tomb', obs, kind .. ':' .. id)
  elseif (not deleted) and ox == '1' then redis.call('ZREM', prefix .. 'tomb', kind .. ':' .. id) end
  if obk ~= backend then
    if obk then redis.call('ZREM', prefix .. 'b:' .. obk .. ':' .. kind, id) end
    redis.call('ZADD', prefix .. 'b:' .. backend .. ':' .. kind, '0', id)
  end
  local cur, prev = j, oj
  if kind == 'i' then
    if og ~= group then
      if og then redis.call('ZREM', prefix .. 'd:' .. og .. ':i', id) end
      redis.call('ZADD', prefix .. 'd:' .. group .. ':i', '0', id)
    end
    -- The state index (lua/state-index.ts): a new state moves the id's score, in one ZADD
    -- per call (index_states below); nothing in the call reads the index.
    if ost ~= status then
      moved[#moved + 1] = STATE_SCORE[status] or UNKNOWN_SCORE
      moved[#moved + 1] = id
    end
  else
    cur = with_instance_ids(prefix, id, j)
    if oj then prev = with_instance_ids(prefix, id, oj) end
  end

  -- Retention is applied once per call, after the last observation (trim_feed below).
  local cursor = append_event(feed, evid, etype, occurred, id, group, nil, nil, nil, cur, prev)
  return '2', vs, cursor, etype
end

local out, appended = {}, false
local n = (#ARGV - 8) / ${OBSERVE_ARGS_PER_ITEM}
for i = 1, n do
  local a = 8 + (i - 1) * ${OBSERVE_ARGS_PER_ITEM}
  local code, v, cursor, etype = observe(ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], ARGV[a + 7])
  if code == '2' then appended = true end
  out[#out + 1] = code
  out[#out + 1] = v or ''
  out[#out + 1] = cursor
  out[#out + 1] = etype or ''
end
index_states()
if appended then trim_feed(feed, maxlen, minid) end
return table.concat(out, ' ')
`;
