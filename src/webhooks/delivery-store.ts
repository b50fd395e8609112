/**
 * Delivery records, the attempt log, dead letters, ordered per-subject queues and the
 * cross-replica rate limiter, each updated by one Lua script so concurrent workers and
 * replicas never see half a change.
 *
 * A delivery is one event to one endpoint; its id is the event id (scoped by endpoint) and
 * doubles as the `webhook-id`, so every attempt — and every redelivery — of an event to an
 * endpoint carries the same id and receivers can deduplicate.
 */
import type { Redis, Result } from 'ioredis';
import type { Attempt, DeliveryView } from './webhook-schemas.js';
import type { WebhookKeys } from './webhook-keys.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    hgwWhEnsure(...args: (string | number)[]): Result<[number, number], Context>;
    hgwWhClaim(...args: (string | number)[]): Result<string[], Context>;
    hgwWhFinish(...args: (string | number)[]): Result<[number, string, string, string], Context>;
    hgwWhRate(...args: (string | number)[]): Result<number, Context>;
  }
}

/**
 * Creates (mode `new`) or restarts (mode `again`: redeliver, replay) a delivery record and,
 * for ordered endpoints, appends it to its subject's queue.
 * KEYS: record, index, ordered list, ordered subjects, dead.
 * ARGV: mode, eventId, type, subject, body, now, ordered, ttlSeconds.
 * Returns {code, run}: 0 already finished (skip), 1 exists and unfinished (enqueue again,
 * idempotent), 2 created, -1 (`again` only) still unfinished.
 */
const ENSURE_LUA = `
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
redis.call('HSETNX', KEYS[1], 'ca', ARGV[6])
redis.call('HSETNX', KEYS[1], 'tot', 0)
redis.call('HSET', KEYS[1], 'ev', ARGV[2], 'ty', ARGV[3], 'sub', ARGV[4], 'body', ARGV[5], 'st', 'pending',
  'own', '', 'n', 0, 'run', run, 'ua', ARGV[6], 'na', ARGV[6], 'ls', '', 'le', '', 'ord', ARGV[7])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[8]))
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[2])
redis.call('ZREM', KEYS[5], ARGV[2])
if ARGV[7] == '1' then
  redis.call('RPUSH', KEYS[3], ARGV[2])
  redis.call('SADD', KEYS[4], ARGV[4])
end
return {2, run}
`;

/**
 * Takes ownership of a delivery for one attempt.
 * KEYS: record, endpoint, health, ordered list. ARGV: jobId, run, forceOwner, deliveryPrefix.
 * Ordered deliveries proceed only at the head of their subject's queue; finished heads left
 * behind by a crash are popped here.
 */
const CLAIM_LUA = `
local ep = redis.call('GET', KEYS[2])
if not ep then return {'gone'} end
local r = redis.call('HMGET', KEYS[1], 'st', 'own', 'run', 'ord', 'body', 'n', 'ev')
if not r[1] then return {'missing'} end
if r[3] ~= ARGV[2] then return {'superseded'} end
if r[1] == 'delivered' or r[1] == 'dead' then return {'done'} end
if r[4] == '1' then
  while true do
    local head = redis.call('LINDEX', KEYS[4], 0)
    if (not head) or head == r[7] then break end
    local hst = redis.call('HGET', ARGV[4] .. head, 'st')
    if hst and hst ~= 'delivered' and hst ~= 'dead' then return {'waiting', head} end
    redis.call('LPOP', KEYS[4])
  end
end
if r[2] and r[2] ~= '' and r[2] ~= ARGV[1] and r[2] ~= ARGV[3] then return {'busy', r[2]} end
redis.call('HSET', KEYS[1], 'own', ARGV[1])
local h = redis.call('HMGET', KEYS[3], 'da', 'dr', 'fs')
return {'ok', ep, r[5], r[6], h[1] or '', h[2] or '', h[3] or ''}
`;

/**
 * Records one attempt: log entry (bounded), record status, endpoint health, dead letters,
 * and for a finished ordered delivery, pops it and names the next head.
 * KEYS: record, log, health, ordered list, dead, index, ordered subjects.
 * ARGV: outcome, now, attemptJson, logLimit, nextAttemptAt, lastStatus, lastError, success,
 * ttlSeconds, deliveryId, deliveryPrefix, subject.
 * Returns {seq, failingSince, nextHead, nextHeadRun}.
 */
const FINISH_LUA = `
local seq = redis.call('HINCRBY', KEYS[3], 'seq', 1)
redis.call('ZADD', KEYS[2], seq, seq .. '|' .. ARGV[3])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[4]) + 1))
local now = tonumber(ARGV[2])
local ttl = tonumber(ARGV[9])
local terminal = ARGV[1] ~= 'retrying'
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'n', 1)
  redis.call('HINCRBY', KEYS[1], 'tot', 1)
  redis.call('HSET', KEYS[1], 'st', ARGV[1], 'ua', ARGV[2], 'na', ARGV[5], 'ls', ARGV[6], 'le', ARGV[7])
  if terminal then redis.call('HSET', KEYS[1], 'own', '') end
  redis.call('EXPIRE', KEYS[1], ttl)
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
if ARGV[1] == 'dead' then redis.call('ZADD', KEYS[5], now, ARGV[10]) else redis.call('ZREM', KEYS[5], ARGV[10]) end
local head, hrun = '', ''
if terminal and redis.call('HGET', KEYS[1], 'ord') == '1' then
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

/**
 * Sliding-window limiter shared by every replica, on Redis time (replica clocks may differ).
 * KEYS: window zset. ARGV: max, windowMs, member. Returns 0 (go) or ms to wait.
 */
const RATE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
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

export interface NewDelivery {
  eventId: string;
  type: string;
  /** Instance or deployment id ('' for gateway events). */
  subject: string;
  body: string;
  ordered: boolean;
}

export type EnsureResult = { code: 'finished' | 'pending' | 'created' | 'busy'; run: number };

export type ClaimResult =
  | { kind: 'gone' | 'missing' | 'superseded' | 'done' }
  | { kind: 'waiting'; head: string }
  | { kind: 'busy'; owner: string }
  | {
      kind: 'ok';
      endpointJson: string;
      body: string;
      attemptsMade: number;
      disabledAt: number | null;
      disabledReason: string | null;
      failingSince: number | null;
    };

export interface FinishInput {
  endpointId: string;
  deliveryId: string;
  subject: string;
  outcome: 'delivered' | 'retrying' | 'dead';
  nowMs: number;
  attempt: Omit<Attempt, 'seq'>;
  nextAttemptAtMs: number | null;
  status: number | null;
  error: string | null;
  /** true: success; false: failure (starts the failing-since clock); null: neither. */
  success: boolean | null;
}

const ENSURE_CODES = { 0: 'finished', 1: 'pending', 2: 'created', [-1]: 'busy' } as const;

export class DeliveryStore {
  constructor(
    private readonly redis: Redis,
    readonly keys: WebhookKeys,
    private readonly settings: () => { ttlSeconds: number; attemptLogLimit: number },
  ) {
    for (const [name, lua, numberOfKeys] of [
      ['hgwWhEnsure', ENSURE_LUA, 5],
      ['hgwWhClaim', CLAIM_LUA, 4],
      ['hgwWhFinish', FINISH_LUA, 7],
      ['hgwWhRate', RATE_LUA, 1],
    ] as const) {
      if (!(name in redis)) redis.defineCommand(name, { lua, numberOfKeys });
    }
  }

  /** Creates (or restarts) deliveries to one endpoint, in order, in one round trip. */
  async ensure(endpointId: string, items: NewDelivery[], mode: 'new' | 'again', nowMs: number): Promise<EnsureResult[]> {
    if (items.length === 0) return [];
    const k = this.keys;
    const pipeline = this.redis.pipeline();
    for (const d of items) {
      pipeline.hgwWhEnsure(
        k.delivery(endpointId, d.eventId), k.deliveries(endpointId), k.ordered(endpointId, d.subject), k.orderedSubjects(endpointId), k.dead(endpointId),
        mode, d.eventId, d.type, d.subject, d.body, nowMs, d.ordered ? '1' : '0', this.settings().ttlSeconds,
      );
    }
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, reply]) => {
      if (err) throw err;
      const [code, run] = reply as [number, number];
      return { code: ENSURE_CODES[code as keyof typeof ENSURE_CODES], run: Number(run) };
    });
  }

  async claim(endpointId: string, deliveryId: string, subject: string, jobId: string, run: number, forceOwner = ''): Promise<ClaimResult> {
    const k = this.keys;
    const r = await this.redis.hgwWhClaim(
      k.delivery(endpointId, deliveryId), k.endpoint(endpointId), k.health(endpointId), k.ordered(endpointId, subject),
      jobId, run, forceOwner, k.deliveryPrefix(endpointId),
    );
    const kind = r[0] as string;
    if (kind === 'waiting') return { kind, head: r[1] ?? '' };
    if (kind === 'busy') return { kind, owner: r[1] ?? '' };
    if (kind !== 'ok') return { kind: kind as 'gone' | 'missing' | 'superseded' | 'done' };
    return {
      kind,
      endpointJson: r[1]!,
      body: r[2]!,
      attemptsMade: Number(r[3] ?? 0),
      disabledAt: r[4] ? Number(r[4]) : null,
      disabledReason: r[5] || null,
      failingSince: r[6] ? Number(r[6]) : null,
    };
  }

  /** Records an attempt; returns the failing-since time and, for ordered endpoints, the next head. */
  async finish(input: FinishInput): Promise<{ failingSince: number | null; nextHead: { id: string; run: number } | null }> {
    const k = this.keys;
    const { endpointId: ep, deliveryId: id } = input;
    const s = this.settings();
    const [, fs, head, hrun] = await this.redis.hgwWhFinish(
      k.delivery(ep, id), k.log(ep), k.health(ep), k.ordered(ep, input.subject), k.dead(ep), k.deliveries(ep), k.orderedSubjects(ep),
      input.outcome, input.nowMs, JSON.stringify(input.attempt), s.attemptLogLimit, input.nextAttemptAtMs ?? '',
      input.status ?? '', input.error ?? '', input.success === null ? '' : input.success ? '1' : '0', s.ttlSeconds, id,
      k.deliveryPrefix(ep), input.subject,
    );
    return { failingSince: fs ? Number(fs) : null, nextHead: head ? { id: head, run: Number(hrun) } : null };
  }

  /** 0 when a send to this endpoint may go now, else ms to wait (shared by every replica). */
  rateLimit(endpointId: string, maxPerWindow: number, windowMs: number, member: string): Promise<number> {
    return this.redis.hgwWhRate(this.keys.rate(endpointId), maxPerWindow, windowMs, member);
  }

  /** Head of an ordered subject queue, with its run. */
  async head(endpointId: string, subject: string): Promise<{ id: string; run: number } | null> {
    const id = await this.redis.lindex(this.keys.ordered(endpointId, subject), 0);
    if (!id) return null;
    const run = await this.redis.hget(this.keys.delivery(endpointId, id), 'run');
    return { id, run: Number(run ?? 0) };
  }

  async get(endpointId: string, deliveryId: string): Promise<(DeliveryView & { body: string }) | null> {
    const h = await this.redis.hgetall(this.keys.delivery(endpointId, deliveryId));
    return h.st ? toDeliveryView(deliveryId, h) : null;
  }

  /** Attempt log, newest first; `cursor` is the seq to continue below. */
  async attempts(endpointId: string, limit: number, cursor?: string, deliveryId?: string): Promise<{ items: Attempt[]; next: string | null }> {
    const items: Attempt[] = [];
    let max = cursor && /^\d+$/.test(cursor) ? `(${cursor}` : '+inf';
    // A deliveryId filter scans the (bounded) log in chunks.
    for (;;) {
      const raw = await this.redis.zrevrangebyscore(this.keys.log(endpointId), max, '-inf', 'LIMIT', 0, deliveryId ? 500 : limit + 1);
      for (const member of raw) {
        const bar = member.indexOf('|');
        const attempt = { seq: Number(member.slice(0, bar)), ...(JSON.parse(member.slice(bar + 1)) as Omit<Attempt, 'seq'>) };
        if (!deliveryId || attempt.deliveryId === deliveryId) items.push(attempt);
        max = `(${attempt.seq}`;
        if (items.length > limit) break;
      }
      if (!deliveryId || raw.length < 500 || items.length > limit) break;
    }
    const page = items.slice(0, limit);
    return { items: page, next: items.length > limit ? String(page.at(-1)!.seq) : null };
  }

  /** Dead-lettered deliveries, newest first; `cursor` is an offset. */
  async dead(endpointId: string, limit: number, cursor?: string): Promise<{ items: DeliveryView[]; next: string | null }> {
    const offset = cursor && /^\d+$/.test(cursor) ? Number(cursor) : 0;
    const ids = await this.redis.zrevrange(this.keys.dead(endpointId), offset, offset + limit);
    const views = await Promise.all(ids.slice(0, limit).map((id) => this.get(endpointId, id)));
    return {
      items: views.filter((v): v is DeliveryView & { body: string } => v !== null).map(({ body: _body, ...v }) => v),
      next: ids.length > limit ? String(offset + limit) : null,
    };
  }
}

function toDeliveryView(id: string, h: Record<string, string>): DeliveryView & { body: string } {
  const time = (v: string | undefined) => (v ? new Date(Number(v)).toISOString() : null);
  return {
    id,
    eventId: h.ev ?? id,
    eventType: h.ty ?? '',
    subject: h.sub || null,
    status: h.st as DeliveryView['status'],
    attempts: Number(h.n ?? 0),
    totalAttempts: Number(h.tot ?? 0),
    run: Number(h.run ?? 0),
    createdAt: time(h.ca) ?? '',
    updatedAt: time(h.ua) ?? '',
    nextAttemptAt: h.st === 'delivered' || h.st === 'dead' ? null : time(h.na),
    lastStatus: h.ls ? Number(h.ls) : null,
    lastError: h.le || null,
    body: h.body ?? '',
  };
}
