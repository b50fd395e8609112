/**
 * Delivery records, the attempt log, dead letters, ordered per-subject queues and the
 * cross-replica rate limiter, each updated by one Lua script so concurrent workers and
 * replicas never see half a change.
 *
 * A delivery is one event to one endpoint; its id is the event id (scoped by endpoint) and
 * doubles as the `webhook-id`, so every attempt — and every redelivery — of an event to an
 * endpoint carries the same id and receivers can deduplicate.
 */
import type { Redis } from 'ioredis';
import type { Attempt, DeliveryView } from '../webhooks/webhook-schemas.js';
import { toClaim, toDeliveryView } from './delivery-replies.js';
import { withScripts, type ScriptName } from './script-registry.js';
import type { WebhookKeys } from './webhook-keys.js';

export interface NewDelivery {
  eventId: string;
  type: string;
  /** Instance or deployment id ('' for gateway events). */
  subject: string;
  body: string;
  ordered: boolean;
  /**
   * The event's feed cursor, when it comes from the feed: once delivered, the body is dropped
   * from Redis and rebuilt from the feed entry for a redelivery. Absent (a test event): kept.
   */
  cursor?: string;
}

export type EnsureResult = { code: 'finished' | 'pending' | 'created' | 'busy'; run: number };

export type ClaimResult =
  | { kind: 'gone' | 'missing' | 'superseded' | 'done' }
  | { kind: 'waiting'; head: string }
  /** `leaseMs`: what is left of a direct attempt's lease; null when a job owns it. */
  | { kind: 'busy'; owner: string; leaseMs: number | null }
  | {
      kind: 'ok';
      endpointJson: string;
      body: string;
      attemptsMade: number;
      disabledAt: number | null;
      disabledReason: string | null;
      failingSince: number | null;
      /** The event's feed cursor: where a body not kept ('') is rebuilt from. */
      cursor: string | null;
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
  /** Owner of the next attempt of a retrying delivery (a direct attempt hands it to its job). */
  handOver?: string;
  /** The body: written for a delivery not delivered (a direct attempt's had none till then). */
  body?: string;
  /**
   * A new unordered delivery sent before it was recorded: the record is created with this
   * first attempt (see FINISH_BODY). Nothing is written when the endpoint is gone.
   */
  created?: { type: string; createdAtMs: number; cursor: string };
}

/** Claims deliveries as they are created (see {@link DeliveryStore.ensure}). */
export interface EnsureClaim {
  /** Per item, in order: who claims it, or null for nobody. */
  owners: readonly (string | null)[];
  leaseMs: number;
}

const ENSURE_CODES = { 0: 'finished', 1: 'pending', 2: 'created', [-1]: 'busy' } as const;
/** One item of a batch script call: its keys and its arguments. */
type BatchItem = { keys: string[]; args: (string | number)[] };

/**
 * The batch scripts: one call carries a whole read's deliveries or a turn's attempts, so it
 * goes to Redis at once rather than in the auto-pipeline, which ioredis sends only after the
 * one before it is answered (and builds a pipeline object for, ~7 µs and more).
 */
export const BATCH_SCRIPTS = ['hgwWhEnsureMany', 'hgwWhFinishMany'] as const satisfies readonly ScriptName[];
type BatchScript = (typeof BATCH_SCRIPTS)[number];

/** A delivery as stored: what the API shows, and what sending it again needs. */
export interface StoredDelivery {
  view: DeliveryView;
  /** '' when not kept (delivered, or held by the fan-out's attempt): rebuilt from the feed at `cursor`. */
  body: string;
  /** The event's feed cursor; null for an event not from the feed. */
  cursor: string | null;
}

export interface Finished {
  /** false: nothing was written (a delivery created with its attempt whose endpoint is gone). */
  recorded: boolean;
  failingSince: number | null;
  nextHead: { id: string; run: number } | null;
}

export class DeliveryStore {
  /** Attempts waiting for this turn's {@link finish} call. */
  private finishing: { input: FinishInput; resolve: (f: Finished) => void; reject: (err: unknown) => void }[] = [];

  constructor(
    private readonly redis: Redis,
    readonly keys: WebhookKeys,
    private readonly settings: () => { ttlSeconds: number; attemptLogLimit: number },
  ) {
    withScripts(redis, ['hgwWhEnsureMany', 'hgwWhFinishMany', 'hgwWhClaim', 'hgwWhRenew', 'hgwWhHandOver', 'hgwWhRate']);
  }

  /**
   * Creates (or restarts) deliveries to one endpoint, in order, in one round trip. With
   * `claim`, each delivery created here whose owner (`owners[i]`) is not null is also claimed by
   * that owner under a lease of `leaseMs` (the fan-out's direct attempts): `claim` on the
   * result says how that went.
   */
  async ensure(
    endpointId: string,
    items: NewDelivery[],
    mode: 'new' | 'again',
    nowMs: number,
    claim?: EnsureClaim,
  ): Promise<(EnsureResult & { claim?: ClaimResult })[]> {
    return (await this.ensureAll([{ endpointId, items, ...(claim ? { claim } : {}) }], mode, nowMs))[0]!;
  }

  /**
   * {@link ensure} for several endpoints at once: one script call for the whole batch (see
   * ENSURE_MANY_LUA), one result list per group.
   */
  async ensureAll(
    groups: { endpointId: string; items: NewDelivery[]; claim?: EnsureClaim }[],
    mode: 'new' | 'again',
    nowMs: number,
  ): Promise<(EnsureResult & { claim?: ClaimResult })[][]> {
    const k = this.keys;
    const ttl = this.settings().ttlSeconds;
    const replies = await this.batchCall(
      'hgwWhEnsureMany',
      groups.flatMap(({ endpointId, items, claim }) =>
        items.map((d, i) => {
          const owner = claim?.owners[i] ?? null;
          // A direct attempt of a feed event to an unordered endpoint: the fan-out holds its
          // body, which is not written (see ENSURE_BODY).
          const held = owner !== null && !d.ordered && !!d.cursor;
          return {
            keys: [
              k.delivery(endpointId, d.eventId), k.deliveries(endpointId), k.ordered(endpointId, d.subject), k.orderedSubjects(endpointId), k.dead(endpointId),
              k.endpoint(endpointId), k.health(endpointId), k.body(endpointId, d.eventId),
            ],
            args: [
              mode, d.eventId, d.type, d.subject, held ? '' : d.body, nowMs, d.ordered ? '1' : '0', ttl,
              owner ?? '', owner === null ? '' : claim!.leaseMs, k.deliveryPrefix(endpointId), d.cursor ?? '',
            ],
          };
        }),
      ),
    );
    let at = 0;
    return groups.map(({ items }) =>
      items.map((d) => {
        const reply = replies[at++]!;
        if (reply instanceof Error) throw reply;
        const [code, run, ...claimed] = reply;
        const result = { code: ENSURE_CODES[Number(code) as keyof typeof ENSURE_CODES], run: Number(run) };
        if (claimed.length === 0) return result;
        const claim = toClaim(claimed.map(String));
        // The script leaves out the body it was just given.
        if (claim.kind === 'ok') claim.body = d.body;
        return { ...result, claim };
      }),
    );
  }

  /**
   * Takes the delivery for one attempt as `owner`. With `leaseMs` (a direct attempt, which no
   * BullMQ lock guards) the ownership lapses after that long; a job never takes it before.
   */
  async claim(
    endpointId: string, deliveryId: string, subject: string, owner: string, run: number,
    options: { forceOwner?: string; leaseMs?: number } = {},
  ): Promise<ClaimResult> {
    const k = this.keys;
    const r = await this.redis.hgwWhClaim(
      k.delivery(endpointId, deliveryId), k.endpoint(endpointId), k.health(endpointId), k.ordered(endpointId, subject), k.body(endpointId, deliveryId),
      owner, run, options.forceOwner ?? '', k.deliveryPrefix(endpointId), options.leaseMs ?? '',
    );
    return toClaim(r);
  }

  /**
   * Records an attempt; returns the failing-since time and, for ordered endpoints, the next
   * head. The attempts recorded in one turn of the event loop (a burst of answers) go to
   * Redis together, in one script call (FINISH_MANY_LUA).
   */
  finish(input: FinishInput): Promise<Finished> {
    return new Promise((resolve, reject) => {
      if (this.finishing.length === 0) setImmediate(() => void this.finishAll());
      this.finishing.push({ input, resolve, reject });
    });
  }

  /** Each attempt's finish resolves or rejects on its own (see perItem in lua/per-item.ts). */
  private async finishAll(): Promise<void> {
    const batch = this.finishing;
    this.finishing = [];
    try {
      const k = this.keys;
      const s = this.settings();
      const replies = await this.batchCall(
        'hgwWhFinishMany',
        batch.map(({ input }) => {
          const { endpointId, deliveryId } = input;
          return {
            keys: [
              k.delivery(endpointId, deliveryId), k.log(endpointId), k.health(endpointId), k.ordered(endpointId, input.subject), k.dead(endpointId),
              k.deliveries(endpointId), k.orderedSubjects(endpointId), k.body(endpointId, deliveryId), k.endpoint(endpointId),
            ],
            args: [
              input.outcome, input.nowMs, JSON.stringify(input.attempt), s.attemptLogLimit, input.nextAttemptAtMs ?? '',
              input.status ?? '', input.error ?? '', input.success === null ? '' : input.success ? '1' : '0', s.ttlSeconds, deliveryId,
              k.deliveryPrefix(endpointId), input.subject, input.handOver ?? '', input.outcome === 'delivered' ? '' : (input.body ?? ''),
              input.created?.type ?? '', input.created?.createdAtMs ?? '', input.created?.cursor ?? '',
            ],
          };
        }),
      );
      batch.forEach(({ resolve, reject }, i) => {
        const reply = replies[i]!;
        if (reply instanceof Error) return reject(reply);
        const [seq, fs, head, hrun] = reply;
        resolve({ recorded: Number(seq) > 0, failingSince: fs ? Number(fs) : null, nextHead: head ? { id: String(head), run: Number(hrun) } : null });
      });
    } catch (err) {
      for (const { reject } of batch) reject(err);
    }
  }

  /**
   * One call of a batch script (see perItem in lua/per-item.ts): every item's keys, then the
   * counts per item and every item's arguments. Written at once, not held for the
   * connection's next auto-pipeline flush (BATCH_SCRIPTS are outside it, see
   * Stores.deliveries): the fan-out and the attempts wait for it. Answers each item's reply,
   * or its error.
   */
  private async batchCall(script: BatchScript, items: BatchItem[]): Promise<((string | number)[] | Error)[]> {
    if (items.length === 0) return [];
    const keys = items.flatMap((item) => item.keys);
    const args = items.flatMap((item) => item.args);
    const replies: unknown[] = await this.redis[script](keys.length, ...keys, items[0]!.keys.length, items[0]!.args.length, ...args);
    return items.map((_, i) => {
      const r = replies[i];
      return Array.isArray(r) || r instanceof Error ? (r as (string | number)[] | Error) : new Error('no reply from Redis for an item of the batch');
    });
  }

  /** Extends the leases of deliveries their owners still hold, in one round trip. */
  async renewLeases(held: { endpointId: string; deliveryId: string; owner: string }[], leaseMs: number): Promise<void> {
    if (held.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const h of held) pipeline.hgwWhRenew(this.keys.delivery(h.endpointId, h.deliveryId), h.owner, leaseMs);
    await pipeline.exec();
  }

  /** Hands a delivery held by `from` to `to`, ending `from`'s lease; false when `from` no longer holds it. */
  async handOver(endpointId: string, deliveryId: string, from: string, to: string): Promise<boolean> {
    return (await this.redis.hgwWhHandOver(this.keys.delivery(endpointId, deliveryId), from, to)) === 1;
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

  async get(endpointId: string, deliveryId: string): Promise<StoredDelivery | null> {
    // One write on the connection's auto-pipeline.
    const [h, body] = await Promise.all([this.redis.hgetall(this.keys.delivery(endpointId, deliveryId)), this.redis.get(this.keys.body(endpointId, deliveryId))]);
    if (!h.st) return null;
    // Records written before the body had a key of its own hold it as a field.
    return { view: toDeliveryView(deliveryId, h), body: body ?? h.body ?? '', cursor: h.cu || null };
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
    const stored = await Promise.all(ids.slice(0, limit).map((id) => this.get(endpointId, id)));
    return {
      items: stored.flatMap((d) => (d ? [d.view] : [])),
      next: ids.length > limit ? String(offset + limit) : null,
    };
  }
}
