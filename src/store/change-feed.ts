/**
 * The change feed: a Redis stream every cache change is appended to (by the store's Lua
 * script), plus events that are not cache changes (`gateway.strategy_changed`,
 * `webhook.disabled`). The stream position is the cursor. Readers that block (a Server-Sent
 * Events stream, the webhook fan-out's consumer group) get a connection of their own through
 * {@link ChangeFeed.follow} and {@link ChangeFeed.group}, so no caller names a stream command.
 */
import type { Redis } from 'ioredis';
import { InputError } from '../errors.js';
import { FeedConsumerGroup } from './feed-consumer-group.js';
import { Keys } from './keys.js';
import { withScripts } from './script-registry.js';
import { newEventId, type FeedLimits } from './state-store.js';

/** Opens a dedicated connection for a blocking reader (closed by the reader). */
export type BlockingConnections = (name: string) => Redis;

/** A stream id (`<ms>-<seq>`) or `0` (from the start). */
export const CURSOR_PATTERN = /^(0|\d{1,20}-\d{1,20})$/;

export interface FeedEntry {
  /** Stream position; pass as `after` to continue. */
  cursor: string;
  /** The event JSON as stored: `{id, type, occurredAt, data}`. */
  json: string;
  type: string;
  /** Instance or deployment id the event is about ('' for gateway events). */
  subject: string;
  /** Deployment id the event belongs to ('' for gateway events). */
  deploymentId: string;
  /**
   * A cache change's parts as stored (absent for other events and the older layout): its
   * data is `{"current":<current>,"previous":<previous or null>}`. Lets a reader that
   * re-wraps the event (the webhook body) splice the documents instead of parsing them.
   */
  change?: { id: string; occurredAt: string; current: string; previous: string | null };
}

export interface FeedPage {
  entries: FeedEntry[];
  /** Cursor to continue from (the last entry's, or `after` when nothing new). */
  next: string;
  /**
   * Events after the requested cursor were trimmed by retention: the caller missed them
   * and must resync from the reads.
   */
  gap: boolean;
}

/** A reader with a connection of its own, for blocking reads (one per SSE stream). */
export interface FeedFollower {
  /** Like {@link ChangeFeed.read}, waiting up to `blockMs` for something new. */
  read(after: string, limit: number, blockMs: number): Promise<FeedPage>;
  /** Closes the connection; a read in progress is rejected at once. */
  close(): void;
}

export class ChangeFeed {
  readonly keys: Keys;
  private readonly redis: Redis;

  constructor(
    redis: Redis,
    prefix: string,
    private readonly limits: FeedLimits,
    private readonly now: () => number = Date.now,
    /** Told of every event this process appends (the feed-appends metric). */
    private readonly onAppend: (type: string) => void = () => {},
    private readonly blocking?: BlockingConnections,
  ) {
    this.keys = new Keys(prefix);
    this.redis = withScripts(redis, ['hgwAppend']);
  }

  /** A reader with its own connection that may block waiting for new events. */
  follow(): FeedFollower {
    const connection = this.openBlocking('events-stream');
    const feed = new ChangeFeed(connection, this.keys.prefix, this.limits, this.now);
    return {
      read: (after, limit, blockMs) => feed.read(after, limit, blockMs),
      close: () => connection.disconnect(),
    };
  }

  /**
   * The consumer group `name` on the feed (created at the current end the first time): what
   * each event is read by exactly one consumer of, acknowledged, and claimed back from a
   * consumer that died.
   */
  group(name: string): FeedConsumerGroup {
    return new FeedConsumerGroup(this.redis, () => this.openBlocking(`feed-group-${name}`), this.keys.feed, name);
  }

  private openBlocking(name: string): Redis {
    if (!this.blocking) throw new Error('this ChangeFeed was built without connections for blocking readers');
    return this.blocking(name);
  }

  /** Appends an event that is not a cache change; returns its cursor and id. */
  async append(
    type: string,
    data: Record<string, unknown>,
    meta: { subject?: string; deploymentId?: string } = {},
  ): Promise<{ cursor: string; id: string }> {
    const id = newEventId();
    const now = this.now();
    const cursor = await this.redis.hgwAppend(
      this.keys.feed,
      id,
      type,
      new Date(now).toISOString(),
      JSON.stringify(data),
      meta.subject ?? '',
      meta.deploymentId ?? '',
      this.limits.maxLength,
      `${Math.max(0, now - this.limits.maxAgeMs)}-0`,
    );
    this.onAppend(type);
    return { cursor, id };
  }

  /**
   * Up to `limit` events after `after` (exclusive; omitted or `0` = from the oldest kept).
   * `gap` is true when retention removed events the caller has not seen.
   */
  async read(after: string | undefined, limit: number, blockMs?: number): Promise<FeedPage> {
    const from = after ?? '0';
    if (!CURSOR_PATTERN.test(from)) {
      throw new InputError('after must be a cursor returned by the feed', [
        { path: 'after', message: `'${from.slice(0, 40)}' is not a feed cursor; use the "next" value of a previous page, or 0` },
      ]);
    }
    const count = Math.min(Math.max(1, Math.trunc(limit)), 1_000);
    let raw: [string, string[]][];
    if (blockMs !== undefined) {
      const reply = await this.redis.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.keys.feed, from);
      raw = reply?.[0]?.[1] ?? [];
    } else {
      raw = await this.redis.xrange(this.keys.feed, from === '0' ? '-' : `(${from}`, '+', 'COUNT', count);
    }
    const entries = raw.map(([cursor, fields]) => toEntry(cursor, fields));
    const gap = from !== '0' && (await this.trimmedAfter(from));
    return { entries, next: entries.at(-1)?.cursor ?? from, gap };
  }

  /** The entry at `cursor`, or null when retention removed it (or it never was). */
  async entry(cursor: string): Promise<FeedEntry | null> {
    if (!CURSOR_PATTERN.test(cursor)) return null;
    const [raw] = await this.redis.xrange(this.keys.feed, cursor, cursor);
    return raw ? toEntry(raw[0], raw[1]) : null;
  }

  /**
   * True when retention may have removed entries newer than `cursor`: something was trimmed
   * and `cursor` is older than the oldest entry kept. (Trimming removes from the head, so a
   * cursor at or past the first kept entry missed nothing.) Errs on the side of "resync".
   */
  async trimmedAfter(cursor: string): Promise<boolean> {
    const info = await this.info();
    if (info.entriesAdded <= info.length) return false;
    const oldestKept = info.firstCursor;
    if (oldestKept === null) return compareCursors(cursor, info.lastGeneratedCursor) < 0;
    return compareCursors(cursor, oldestKept) < 0;
  }

  /** Stream length, first and last cursor, and how many entries were ever added. */
  async info(): Promise<{
    length: number;
    firstCursor: string | null;
    lastCursor: string | null;
    lastGeneratedCursor: string;
    entriesAdded: number;
  }> {
    let reply: unknown[];
    try {
      reply = (await this.redis.xinfo('STREAM', this.keys.feed)) as unknown[];
    } catch (err) {
      if (/no such key/i.test((err as Error).message)) {
        return { length: 0, firstCursor: null, lastCursor: null, lastGeneratedCursor: '0-0', entriesAdded: 0 };
      }
      throw err;
    }
    const fields = new Map<string, unknown>();
    for (let i = 0; i + 1 < reply.length; i += 2) fields.set(String(reply[i]), reply[i + 1]);
    const first = fields.get('first-entry') as [string, string[]] | null;
    const last = fields.get('last-entry') as [string, string[]] | null;
    return {
      length: Number(fields.get('length') ?? 0),
      firstCursor: first?.[0] ?? null,
      lastCursor: last?.[0] ?? null,
      lastGeneratedCursor: String(fields.get('last-generated-id') ?? '0-0'),
      entriesAdded: Number(fields.get('entries-added') ?? fields.get('length') ?? 0),
    };
  }
}

/**
 * A raw stream entry (`XRANGE`/`XREAD`/`XREADGROUP` fields) as a feed entry: the one place
 * the stream fields `append_event` writes (src/store/lua/feed.ts) become the event JSON.
 */
export function toEntry(cursor: string, fields: string[]): FeedEntry {
  const map: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) map[fields[i]!] = fields[i + 1]!;
  const type = map.t ?? '';
  const entry: FeedEntry = { cursor, json: map.e ?? eventJson(map, type), type, subject: map.k ?? '', deploymentId: map.g ?? '' };
  if (map.e === undefined && map.d === undefined && map.c !== undefined) {
    entry.change = { id: map.i ?? '', occurredAt: map.a ?? '', current: map.c, previous: map.p || null };
  }
  return entry;
}

/** `{id, type, occurredAt, data}` from an entry's fields; a change's data from its two documents. */
function eventJson(map: Record<string, string>, type: string): string {
  const data = map.d ?? `{"current":${map.c ?? 'null'},"previous":${map.p || 'null'}}`;
  return `{"id":${JSON.stringify(map.i ?? '')},"type":${JSON.stringify(type)},"occurredAt":${JSON.stringify(map.a ?? '')},"data":${data}}`;
}

/** Orders two stream ids numerically. */
export function compareCursors(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return 0;
}
