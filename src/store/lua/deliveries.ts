/** Lua of the delivery log: records, claims, attempts, dead letters, pacing (see script-registry.ts). */
import { REDIS_NOW_MS } from './clock.js';
import { perItem } from './per-item.js';

/**
 * The claim of one delivery (see CLAIM_LUA), shared by the claim and the ensure-and-claim
 * scripts; `claim_ok` is its answer once the delivery is taken.
 */
const CLAIM_FUNCTION = `${REDIS_NOW_MS}
local function claim_ok(ep, body, n, healthKey, cursor)
  local h = redis.call('HMGET', healthKey, 'da', 'dr', 'fs')
  return {'ok', ep, body, n, h[1] or '', h[2] or '', h[3] or '', cursor or ''}
end
local function claimDelivery(record, endpointKey, healthKey, orderedKey, owner, run, force, prefix, leaseMs, bodyKey)
local ep = redis.call('GET', endpointKey)
if not ep then return {'gone'} end
local r = redis.call('HMGET', record, 'st', 'own', 'run', 'ord', 'body', 'n', 'ev', 'ou', 'cu')
if not r[1] then return {'missing'} end
if r[3] ~= run then return {'superseded'} end
if r[1] == 'delivered' or r[1] == 'dead' then return {'done'} end
if r[4] == '1' then
  while true do
    local head = redis.call('LINDEX', orderedKey, 0)
    if (not head) or head == r[7] then break end
    local hst = redis.call('HGET', prefix .. head, 'st')
    if hst and hst ~= 'delivered' and hst ~= 'dead' then return {'waiting', head} end
    redis.call('LPOP', orderedKey)
  end
end
local now = redis_now_ms()
if r[2] and r[2] ~= '' and r[2] ~= owner and r[2] ~= force then
  local leased = tonumber(r[8] or '')
  if not leased then return {'busy', r[2], ''} end
  if leased > now then return {'busy', r[2], tostring(leased - now)} end
end
local lease = ''
if leaseMs ~= '' then lease = now + tonumber(leaseMs) end
redis.call('HSET', record, 'own', owner, 'ou', lease)
-- The body has a key of its own; records written before kept it as a field. A direct
-- attempt's delivery has none ('' with the cursor: the caller rebuilds it from the feed).
local body = r[5] or ''
if bodyKey and not r[5] then body = redis.call('GET', bodyKey) or '' end
return claim_ok(ep, body, r[6], healthKey, r[9])
end
`;

/**
 * Creates (mode `new`) or restarts (mode `again`: redeliver, replay) a delivery record and,
 * for ordered endpoints, appends it to its subject's queue. With an owner, a delivery created
 * here is also claimed by it (the fan-out's direct attempt, one round trip instead of two).
 * The body is kept under a key of its own and the record keeps the event's feed cursor
 * (`cu`): once delivered, the body is dropped (FINISH below), and a redelivery rebuilds it
 * from the feed entry. A direct attempt's body is not written at all (ARGV body ''): the
 * fan-out holds it and the feed entry stays unacknowledged until the attempt is recorded,
 * whose FINISH writes it only if the delivery is not delivered (a retry, a dead letter).
 * KEYS: record, index, ordered list, ordered subjects, dead, endpoint, health, body.
 * ARGV: mode, eventId, type, subject, body, now, ordered, ttlSeconds, owner ('' none),
 * leaseMs, deliveryPrefix, feed cursor ('' for an event not from the feed).
 * Returns {code, run} and, for a claim, the claim's reply after them (an `ok` without the
 * body, which the caller has): code 0 already finished (skip), 1 exists and unfinished
 * (enqueue again, idempotent), 2 created, -1 (`again` only) still unfinished.
 */
const ENSURE_BODY = `
local st = redis.call('HGET', KEYS[1], 'st')
local terminal = st == 'delivered' or st == 'dead'
local run = 0
if ARGV[1] == 'new' then
  if st then
    if terminal then return {0, 0} end
    return {1, tonumber(redis.call('HGET', KEYS[1], 'run')) or 0}
  end
else
  if st and not terminal then return {-1, tonumber(redis.call('HGET', KEYS[1], 'run')) or 0} end
  run = (tonumber(redis.call('HGET', KEYS[1], 'run')) or -1) + 1
end
-- The claim of an unordered delivery created here needs no reading back of what is written
-- now: it is made in the same HSET (the common case: one command instead of five).
local own, ou, ep = '', '', nil
if ARGV[9] ~= '' and ARGV[7] ~= '1' then
  ep = redis.call('GET', KEYS[6])
  if ep then
    own = ARGV[9]
    if ARGV[10] ~= '' then ou = redis_now_ms() + tonumber(ARGV[10]) end
  end
end
local fields = {'ev', ARGV[2], 'ty', ARGV[3], 'sub', ARGV[4], 'st', 'pending',
  'own', own, 'ou', ou, 'n', 0, 'run', run, 'ua', ARGV[6], 'na', ARGV[6], 'ls', '', 'le', '', 'ord', ARGV[7], 'cu', ARGV[12]}
if st then
  redis.call('HSETNX', KEYS[1], 'ca', ARGV[6])
  redis.call('HSETNX', KEYS[1], 'tot', 0)
  redis.call('HDEL', KEYS[1], 'body')
else
  -- A new record: nothing to keep.
  table.insert(fields, 'ca'); table.insert(fields, ARGV[6]); table.insert(fields, 'tot'); table.insert(fields, 0)
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[8]))
if ARGV[5] ~= '' then redis.call('SET', KEYS[8], ARGV[5], 'EX', tonumber(ARGV[8])) end
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[2])
-- Only a restarted delivery can be a dead letter.
if ARGV[1] ~= 'new' then redis.call('ZREM', KEYS[5], ARGV[2]) end
if ARGV[7] == '1' then
  redis.call('RPUSH', KEYS[3], ARGV[2])
  redis.call('SADD', KEYS[4], ARGV[4])
end
if ARGV[9] ~= '' then
  -- The caller has just sent the body: it is not sent back.
  local claim
  if own ~= '' then
    claim = claim_ok(ep, '', '0', KEYS[7])
  else
    claim = claimDelivery(KEYS[1], KEYS[6], KEYS[7], KEYS[3], ARGV[9], tostring(run), '', ARGV[11], ARGV[10], false)
    if claim[1] == 'ok' then claim[3] = '' end
  end
  table.insert(claim, 1, run)
  table.insert(claim, 1, 2)
  return claim
end
return {2, run}
`;

/** The ensure above for a batch of deliveries (see perItem): the fan-out's one call per batch. */
export const ENSURE_MANY_LUA = `${CLAIM_FUNCTION}${perItem(ENSURE_BODY)}`;


/**
 * Takes ownership of a delivery for one attempt.
 * KEYS: record, endpoint, health, ordered list, body.
 * ARGV: owner, run, forceOwner, deliveryPrefix, leaseMs ('' for a BullMQ job, which has its own lock).
 * Ordered deliveries proceed only at the head of their subject's queue; finished heads left
 * behind by a crash are popped here. An owner holding a lease (a direct attempt of the
 * fan-out, field `ou`, Redis time) keeps the delivery until the lease lapses: `busy` then
 * carries the ms left. A job owner is answered `busy` with no lease (the caller asks BullMQ).
 */
export const CLAIM_LUA = `${CLAIM_FUNCTION}return claimDelivery(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], KEYS[5])
`;

/**
 * Extends the lease of a delivery its owner still holds (a direct attempt in flight).
 * KEYS: record. ARGV: owner, leaseMs. Returns 1 when extended.
 */
export const RENEW_LUA = `${REDIS_NOW_MS}
if redis.call('HGET', KEYS[1], 'own') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'ou', redis_now_ms() + tonumber(ARGV[2]))
return 1
`;

/**
 * Hands a delivery held by `from` to `to` (a job that takes over a direct attempt's retry or
 * wait), ending `from`'s lease. KEYS: record. ARGV: from, to. Returns 1 when handed over.
 */
export const HAND_OVER_LUA = `
if redis.call('HGET', KEYS[1], 'own') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'own', ARGV[2], 'ou', '')
return 1
`;

/**
 * Records one attempt: log entry (bounded), record status, endpoint health, dead letters,
 * and for a finished ordered delivery, pops it and names the next head. A delivered body
 * the feed holds (the record has its cursor) is dropped: a redelivery rebuilds it. A record
 * still a listpack (a direct attempt's: its owner is short) is updated in place; a hash
 * table (a job's long owner id, a long error, an old body field) is written anew, small.
 * Undelivered, the body is written when given (a direct attempt's had none: ENSURE_BODY).
 * With a creation time (ARGV 16), the first attempt of a new unordered delivery that was
 * sent before it was recorded (DeliveryWorker.attemptNew): the record is written once, in
 * its final state, with what ENSURE_BODY and this script would write in turn (no claim, no
 * body once delivered). If the endpoint is gone, nothing is written; if the record exists
 * (another fan-out recorded the delivery meanwhile), the attempt is recorded as any other.
 * KEYS: record, log, health, ordered list, dead, index, ordered subjects, body, endpoint.
 * ARGV: outcome, now, attemptJson, logLimit, nextAttemptAt, lastStatus, lastError, success,
 * ttlSeconds, deliveryId, deliveryPrefix, subject, handOver (the owner of the next attempt
 * of a retrying delivery, '' to keep the current one; a lease always ends here), body ('':
 * none given), then for a creation ('' otherwise): event type, creation time, feed cursor.
 * Returns {seq, failingSince, nextHead, nextHeadRun}; seq 0 when nothing was written.
 */
const FINISH_BODY = `
local create = ARGV[16] ~= ''
if create and redis.call('EXISTS', KEYS[9]) == 0 then return {0, '', '', ''} end
create = create and redis.call('EXISTS', KEYS[1]) == 0
local seq = redis.call('HINCRBY', KEYS[3], 'seq', 1)
redis.call('ZADD', KEYS[2], seq, seq .. '|' .. ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[4]) + 1))
local now = tonumber(ARGV[2])
local ttl = tonumber(ARGV[9])
local terminal = ARGV[1] ~= 'retrying'
local kept = create and {} or redis.call('HMGET', KEYS[1], 'st', 'cu', 'ord', 'n', 'tot')
local ord = kept[3]
local encoding = kept[1] and ARGV[1] == 'delivered' and kept[2] and kept[2] ~= '' and redis.call('OBJECT', 'ENCODING', KEYS[1])
if create then
  local own = ''
  if not terminal then own = ARGV[13] end
  redis.call('HSET', KEYS[1], 'ev', ARGV[10], 'ty', ARGV[15], 'sub', ARGV[12], 'st', ARGV[1], 'own', own, 'ou', '', 'n', 1, 'run', 0,
    'ca', ARGV[16], 'tot', 1, 'ua', ARGV[2], 'na', ARGV[5], 'ls', ARGV[6], 'le', ARGV[7], 'ord', '0', 'cu', ARGV[17])
  redis.call('EXPIRE', KEYS[1], ttl)
  if ARGV[14] ~= '' then redis.call('SET', KEYS[8], ARGV[14], 'EX', ttl) end
  redis.call('ZADD', KEYS[6], ARGV[16], ARGV[10])
elseif encoding == 'listpack' or encoding == 'ziplist' then
  redis.call('HSET', KEYS[1], 'st', ARGV[1], 'ua', ARGV[2], 'na', ARGV[5], 'ls', ARGV[6], 'le', ARGV[7], 'own', '', 'ou', '',
    'n', (tonumber(kept[4]) or 0) + 1, 'tot', (tonumber(kept[5]) or 0) + 1)
  redis.call('DEL', KEYS[8])
  redis.call('EXPIRE', KEYS[1], ttl)
elseif encoding then
  -- Written anew without the body and the attempt's owner: a listpack (~330 B, not ~1.1 KB).
  local h = redis.call('HGETALL', KEYS[1])
  local now_ = {st = ARGV[1], ua = ARGV[2], na = ARGV[5], ls = ARGV[6], le = ARGV[7]}
  local fields, counted = {}, {}
  for i = 1, #h, 2 do
    local f, v = h[i], h[i + 1]
    if f == 'n' or f == 'tot' then v, counted[f] = tostring((tonumber(v) or 0) + 1), true end
    if now_[f] then v, now_[f] = now_[f], nil end
    if f ~= 'own' and f ~= 'ou' and f ~= 'body' then fields[#fields + 1] = f; fields[#fields + 1] = v end
  end
  for f, v in pairs(now_) do fields[#fields + 1] = f; fields[#fields + 1] = v end
  if not counted.n then fields[#fields + 1] = 'n'; fields[#fields + 1] = '1' end
  if not counted.tot then fields[#fields + 1] = 'tot'; fields[#fields + 1] = '1' end
  redis.call('DEL', KEYS[1], KEYS[8])
  redis.call('HSET', KEYS[1], unpack(fields))
  redis.call('EXPIRE', KEYS[1], ttl)
elseif kept[1] then
  redis.call('HINCRBY', KEYS[1], 'n', 1)
  redis.call('HINCRBY', KEYS[1], 'tot', 1)
  -- A lease always ends here; a finished delivery has no owner, a retry the one handed over.
  if terminal then
    redis.call('HSET', KEYS[1], 'st', ARGV[1], 'ua', ARGV[2], 'na', ARGV[5], 'ls', ARGV[6], 'le', ARGV[7], 'ou', '', 'own', '')
  elseif ARGV[13] ~= '' then
    redis.call('HSET', KEYS[1], 'st', ARGV[1], 'ua', ARGV[2], 'na', ARGV[5], 'ls', ARGV[6], 'le', ARGV[7], 'ou', '', 'own', ARGV[13])
  else
    redis.call('HSET', KEYS[1], 'st', ARGV[1], 'ua', ARGV[2], 'na', ARGV[5], 'ls', ARGV[6], 'le', ARGV[7], 'ou', '')
  end
  redis.call('EXPIRE', KEYS[1], ttl)
  if ARGV[14] ~= '' then redis.call('SET', KEYS[8], ARGV[14], 'EX', ttl) else redis.call('EXPIRE', KEYS[8], ttl) end
end
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - ttl * 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - ttl * 1000)
local fs = ''
if ARGV[8] == '1' then
  redis.call('HSET', KEYS[3], 'ls', ARGV[2])
  redis.call('HDEL', KEYS[3], 'fs')
elseif ARGV[8] == '0' then
  redis.call('HSETNX', KEYS[3], 'fs', ARGV[2])
  fs = redis.call('HGET', KEYS[3], 'fs')
end
-- Only a record that was dead can be among the dead letters (an attempt that raced its death).
if ARGV[1] == 'dead' then redis.call('ZADD', KEYS[5], now, ARGV[10]) elseif kept[1] == 'dead' then redis.call('ZREM', KEYS[5], ARGV[10]) end
local head, hrun = '', ''
if terminal and ord == '1' then
  if redis.call('LINDEX', KEYS[4], 0) == ARGV[10] then redis.call('LPOP', KEYS[4]) else redis.call('LREM', KEYS[4], 1, ARGV[10]) end
  local h = redis.call('LINDEX', KEYS[4], 0)
  if h then
    head = h
    hrun = redis.call('HGET', ARGV[11] .. h, 'run') or '0'
  else
    redis.call('SREM', KEYS[7], ARGV[12])
  end
end
return {seq, fs, head, hrun}
`;

/** The finish above for a batch of attempts (see perItem): the attempts that end together, in one call. */
export const FINISH_MANY_LUA = perItem(FINISH_BODY);

/**
 * Sliding-window limiter shared by every replica, on Redis time (replica clocks may differ).
 * KEYS: window zset. ARGV: max, windowMs, member. Returns 0 (go) or ms to wait.
 */
export const RATE_LUA = `${REDIS_NOW_MS}
local now = redis_now_ms()
local w = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - w)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], w * 2)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + w - now + 1)
`;

