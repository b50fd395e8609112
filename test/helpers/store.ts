/** The store and feed the store-level tests write through. */
import type { Redis } from 'ioredis';
import type { Instance } from '../../src/model/types.js';
import type { InstanceQuery } from '../../src/store/cache-reader.js';
import { ChangeFeed } from '../../src/store/change-feed.js';
import { StateStore } from '../../src/store/state-store.js';

/** The feed limits tests run with: the gateway's defaults (1,000,000 events, 7 days). */
export const FEED_LIMITS = { maxLength: 1_000_000, maxAgeMs: 7 * 86_400_000 };

/** A StateStore and the ChangeFeed it appends to, on `ctx`'s Redis under its prefix. */
export function storeAndFeed(ctx: { redis: Redis; prefix: string }): { store: StateStore; feed: ChangeFeed } {
  return { store: new StateStore(ctx.redis, ctx.prefix, FEED_LIMITS), feed: new ChangeFeed(ctx.redis, ctx.prefix, FEED_LIMITS) };
}

/** The ids of every instance `query` lists, page after page of `query.limit`. */
export async function pagedInstanceIds(store: StateStore, query: InstanceQuery): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listInstancesJson({ ...query, ...(cursor ? { cursor } : {}) });
    ids.push(...page.items.map((j) => (JSON.parse(j) as Instance).id));
    cursor = page.next ?? undefined;
  } while (cursor);
  return ids;
}
