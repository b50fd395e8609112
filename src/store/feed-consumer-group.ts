/**
 * A consumer group on the change feed: each event is read by one consumer of the group,
 * acknowledged once handled, and claimed back from a consumer that stopped without
 * acknowledging (a crashed replica). Blocking reads use a connection of their own.
 */
import type { Redis } from 'ioredis';
import { compareCursors, toEntry, type FeedEntry } from './change-feed.js';
import { withScripts } from './script-registry.js';

export interface GroupLag {
  /** Entries read by a consumer and not acknowledged yet. */
  pending: number;
  /** True when the group has read up to the last appended entry. */
  readToEnd: boolean;
}

/** How long an acknowledgement waits for others to share its XACK (see FeedConsumerGroup.ack). */
export const ACK_WINDOW_MS = 20;

export class FeedConsumerGroup {
  private blocking: Redis | undefined;
  /** The acknowledgements gathering for the next XACK, and its answer. */
  private acking: { cursors: string[]; sent: Promise<void> } | undefined;
  private interrupted = false;
  /** Set by recreateIfGone: entries up to this id may have been read by the group that was lost. */
  private replayUntil: string | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly openBlocking: () => Redis,
    private readonly feedKey: string,
    readonly name: string,
  ) {
    withScripts(redis, ['hgwWhSkip']);
  }

  /**
   * Creates the group, unless it exists: at the feed's current end (`$`), or at `from` (an
   * entry id; `0`: the feed's start).
   */
  async ensure(from = '$'): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.feedKey, this.name, from, 'MKSTREAM');
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err;
    }
  }

  /**
   * After `err` from a read, a claim or a skip: when it says the feed or the group no longer
   * exists (Redis lost its data — restarted without persistence, or failed over to a replica
   * that had not synced — or someone deleted the group), creates the group again at the
   * feed's start, not its end, so nothing appended since is missed, and answers true. For the
   * webhook fan-out, what is read again sends nothing twice: an endpoint only gets entries
   * after its `startCursor`, and a delivery recorded as finished is not sent again.
   */
  async recreateIfGone(err: unknown): Promise<boolean> {
    if (!/NOGROUP|requires the key to exist/.test((err as Error).message)) return false;
    await this.ensure('0');
    // Reads up to here are not `fresh`: the lost group may have delivered those entries.
    this.replayUntil = (await this.redis.xrevrange(this.feedKey, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
    return true;
  }

  /**
   * New entries for `consumer`, waiting up to `blockMs` for some, and the string value of the
   * key `alongside` read in the same round trip, right after the read is served (Redis runs
   * the GET queued behind a blocked read once the read returns), so it is at least as new as
   * the entries: a change made before an entry was appended is seen with that entry.
   * `fresh`: no entry was ever read before (false while re-reading after recreateIfGone).
   */
  async read(consumer: string, options: { count: number; blockMs: number; alongside: string }): Promise<{ entries: FeedEntry[]; alongside: string | null; fresh: boolean }> {
    // After interrupt() (shutdown) no read reopens the connection.
    if (this.interrupted) return { entries: [], alongside: null, fresh: true };
    const replies = (await (await this.blockingConnection())
      .pipeline()
      .xreadgroup('GROUP', this.name, consumer, 'COUNT', options.count, 'BLOCK', options.blockMs, 'STREAMS', this.feedKey, '>')
      .get(options.alongside)
      .exec()) ?? [];
    for (const [err] of replies) if (err) throw err;
    const reply = replies[0]?.[1] as [string, [string, string[]][]][] | null | undefined;
    const alongside = (replies[1]?.[1] as string | null | undefined) ?? null;
    const entries = (reply?.[0]?.[1] ?? []).map(([id, fields]) => toEntry(id, fields));
    // Past the entries a lost group may have delivered before (recreateIfGone), reads are fresh again.
    if (this.replayUntil !== undefined && entries.length > 0 && compareCursors(entries[0]!.cursor, this.replayUntil) > 0) this.replayUntil = undefined;
    return { entries, alongside, fresh: this.replayUntil === undefined };
  }

  /**
   * Moves the group past every entry appended so far, unread, when no endpoint listed in the
   * sorted set `indexKey` is enabled (its health hash, `before` + id + `after`, holds no
   * `da`); one script (SKIP_LUA), so atomic with adding or re-enabling an endpoint. Returns
   * the group's new position, or null when one is enabled (nothing moved). Pending entries
   * stay pending.
   */
  async skipWhileNoneEnabled(indexKey: string, healthKey: { before: string; after: string }): Promise<string | null> {
    return this.redis.hgwWhSkip(this.feedKey, indexKey, this.name, healthKey.before, healthKey.after);
  }

  /**
   * Waits (on the blocking connection) until an entry after `cursor` exists, at most
   * `blockMs`, reading at most one entry (a plain XREAD: the group and its pending entries
   * are untouched). True when one exists.
   */
  async waitAfter(cursor: string, blockMs: number): Promise<boolean> {
    if (this.interrupted) return false;
    const reply = await (await this.blockingConnection()).xread('COUNT', 1, 'BLOCK', blockMs, 'STREAMS', this.feedKey, cursor);
    return (reply?.[0]?.[1]?.length ?? 0) > 0;
  }

  /**
   * Claims, for `consumer`, entries other consumers left pending for `idleMs`, in batches of
   * `count`, handing each batch to `handle` (then continuing while `more()` says so).
   */
  async claimAbandoned(
    consumer: string,
    options: { idleMs: number; count: number },
    handle: (entries: FeedEntry[]) => Promise<void>,
    more: () => boolean = () => true,
  ): Promise<void> {
    let cursor = '0-0';
    do {
      const [next, entries] = (await this.redis.xautoclaim(this.feedKey, this.name, consumer, options.idleMs, cursor, 'COUNT', options.count)) as [
        string,
        [string, string[] | null][],
      ];
      cursor = next;
      // Entries trimmed by retention come back without fields: nothing left to hand out.
      const live = entries.filter((e): e is [string, string[]] => Array.isArray(e[1]));
      if (live.length > 0) await handle(live.map(([id, fields]) => toEntry(id, fields)));
    } while (cursor !== '0-0' && more());
  }

  /**
   * Acknowledges handled entries, together with the others acknowledged in the next
   * ACK_WINDOW_MS: one XACK for them all, not one per read (at 500 events/s a read holds
   * one entry, and its XACK was a round trip of its own). Resolves once Redis has them.
   * An entry is pending that much longer: a crash in between has the next consumer read it
   * again and find its deliveries recorded, so nothing is sent twice for it.
   */
  ack(cursors: string[]): Promise<void> {
    if (cursors.length === 0) return Promise.resolve();
    if (!this.acking) {
      const gathered: string[] = [];
      const sent = new Promise<void>((resolve) => setTimeout(resolve, ACK_WINDOW_MS)).then(async () => {
        this.acking = undefined;
        await this.redis.xack(this.feedKey, this.name, ...gathered);
      });
      this.acking = { cursors: gathered, sent };
    }
    this.acking.cursors.push(...cursors);
    return this.acking.sent;
  }

  /** How far behind the group is. */
  async lag(): Promise<GroupLag> {
    const groups = (await this.redis.xinfo('GROUPS', this.feedKey)) as unknown[][];
    for (const g of groups) {
      const f = fields(g);
      if (f.get('name') !== this.name) continue;
      const stream = fields((await this.redis.xinfo('STREAM', this.feedKey)) as unknown[]);
      return { pending: Number(f.get('pending')), readToEnd: f.get('last-delivered-id') === stream.get('last-generated-id') };
    }
    return { pending: 0, readToEnd: false };
  }

  /** The connection blocking reads wait on, opened (again, after interrupt) when needed. */
  private async blockingConnection(): Promise<Redis> {
    this.blocking ??= this.openBlocking();
    if (this.blocking.status === 'end') await this.blocking.connect();
    return this.blocking;
  }

  /** Ends a blocking read at once, and every later one (what was read but not handled stays pending). */
  interrupt(): void {
    this.interrupted = true;
    this.blocking?.disconnect();
  }

  /** Allows reads again after {@link interrupt} (a consumer started again). */
  resume(): void {
    this.interrupted = false;
  }
}

function fields(reply: unknown[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (let i = 0; i + 1 < reply.length; i += 2) out.set(String(reply[i]), reply[i + 1]);
  return out;
}
