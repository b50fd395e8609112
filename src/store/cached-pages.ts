/**
 * Pages of all instances (`GET /v1/instances`, with or without tombstones) answered from
 * the tracked read cache (read-cache.ts) when it holds every part of the page: the instance
 * index (kept while it has at most `maxEntries` ids), the refresh failures, and the
 * document of each id the page shows (a few missing ones are fetched alone). Otherwise the
 * page is read from Redis in one script call, as without the cache, and what it read is
 * kept for the next pages — only when no invalidation arrived while it was read.
 *
 * Each part stays true by the invalidations single reads use: the index by a change of
 * `idx:i` (an instance added or purged), a document by one of `i:<id>`, the failures by a
 * flush. The page is then what the script would have answered: ids in Redis' lex order
 * after the cursor, tombstones left out unless asked for, `next` when more ids follow.
 */
import type { Redis } from 'ioredis';
import type { ServedDoc, ServedPage } from './cache-reader.js';
import type { Keys } from './keys.js';
import type { TrackedReadCache } from './read-cache.js';

/** The instance index as cached: every id in lex order, or none when there are too many to keep. */
interface IndexSnapshot {
  ids: string[];
  complete: boolean;
}

export class CachedInstancePages {
  /** Pages answered from memory and from Redis (tests, status). */
  readonly figures = { fromMemory: 0, fromRedis: 0 };

  constructor(
    private readonly cache: TrackedReadCache,
    private readonly redis: Redis,
    private readonly keys: Keys,
    /** One document through the cache (kept unless a change raced it). */
    private readonly fetchDoc: (id: string) => Promise<ServedDoc | null>,
  ) {}

  /** The page after `cursor` (exclusive) of at most `limit` instances; `fromRedis` reads it when memory cannot. */
  async serve(request: { cursor?: string; limit: number; tombstones: boolean }, fromRedis: () => Promise<ServedPage>): Promise<ServedPage> {
    const cached = await this.fromMemory(request);
    if (cached) {
      this.figures.fromMemory++;
      return cached;
    }
    this.figures.fromRedis++;
    const ticket = this.cache.ticket();
    const page = await fromRedis();
    this.cache.keepAll(this.entriesOf(page), ticket);
    return page;
  }

  private async fromMemory(request: { cursor?: string; limit: number; tombstones: boolean }): Promise<ServedPage | undefined> {
    const index = await this.cache.get(this.keys.allInstances, () => this.fetchIndex());
    if (!index?.complete) return undefined;
    const failures = await this.cache.get(this.keys.refreshFailures, () => this.fetchFailures());
    if (!failures) return undefined;
    const first = this.assemble(index.ids, request);
    if (first.missing.length === 0) return { ...first.page, failures };
    // A few documents not cached (a tombstone, one evicted): fetched one by one, in one
    // round trip; more than that, and the page script is cheaper.
    if (first.missing.length > Math.max(2, request.limit / 4)) return undefined;
    await Promise.all(first.missing.map((id) => this.fetchDoc(id)));
    const second = this.assemble(index.ids, request);
    return second.missing.length === 0 ? { ...second.page, failures } : undefined;
  }

  /** The page from the cached documents, and the ids on it whose document is not cached. */
  private assemble(ids: readonly string[], request: { cursor?: string; limit: number; tombstones: boolean }) {
    const items: ServedDoc[] = [];
    const missing: string[] = [];
    let at = request.cursor === undefined ? 0 : firstAfter(ids, request.cursor);
    for (; at < ids.length && items.length + missing.length < request.limit; at++) {
      const doc = this.cache.peek<ServedDoc>(this.keys.instance(ids[at]!));
      if (doc === undefined) missing.push(ids[at]!);
      else if (request.tombstones || !doc.tombstone) items.push(doc);
    }
    const full = items.length >= request.limit;
    return { page: { items, next: full && at < ids.length ? items[items.length - 1]!.id : null }, missing };
  }

  private async fetchIndex(): Promise<IndexSnapshot> {
    const max = this.cache.maxEntries;
    // Counted first: a large account learns it does not fit without reading every id.
    if ((await this.redis.zcard(this.keys.allInstances)) > max) return { ids: [], complete: false };
    const ids = await this.redis.zrange(this.keys.allInstances, 0, String(max));
    return ids.length > max ? { ids: [], complete: false } : { ids, complete: true };
  }

  private async fetchFailures(): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.redis.hgetall(this.keys.refreshFailures)));
  }

  /** A page read from Redis, as cache entries: its documents (with their scopes' failures) and the failures. */
  private *entriesOf(page: ServedPage): Iterable<[string, unknown]> {
    yield [this.keys.refreshFailures, page.failures];
    for (const item of page.items) {
      const failures = new Map<string, string>();
      for (const scope of [`d:${item.deploymentId}`, `b:${item.backendId}`]) {
        const failure = page.failures.get(scope);
        if (failure) failures.set(scope, failure);
      }
      yield [this.keys.instance(item.id), { ...item, failures }];
    }
  }
}

/** Position of the first id after `cursor` in Redis' lex order (bytes of UTF-8). */
function firstAfter(ids: readonly string[], cursor: string): number {
  let low = 0;
  let high = ids.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareLex(ids[middle]!, cursor) <= 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** UTF-16 order equals UTF-8 byte order unless a surrogate pair is involved. */
const SURROGATE = /[\uD800-\uDFFF]/;

function compareLex(a: string, b: string): number {
  if (SURROGATE.test(a) || SURROGATE.test(b)) return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return a < b ? -1 : a > b ? 1 : 0;
}
