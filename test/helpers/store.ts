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

/**
 * Rewrites a record as store layout 3 kept it: `w` as `u|cl|bkk`, the version and observedAt
 * (ms and ISO) in fields of their own (`v`, `ob`, `o`).
 */
export async function asLayout3(redis: Redis, key: string): Promise<void> {
  const { j, w } = await redis.hgetall(key);
  const [u, cl, bkk, ob, v] = w!.split('|');
  await redis.hset(key, 'w', `${u}|${cl}|${bkk}`, 'v', v!, 'ob', ob!, 'o', (JSON.parse(j!) as { observedAt: string }).observedAt);
}

/** Rewrites a record as the layout before `w` kept it: content `c`, `uj`, `u`, `bkk`, `s`, `m`, `v`, `ob`, `o`. */
export async function asLayoutBeforeW(redis: Redis, key: string): Promise<void> {
  await asLayout3(redis, key);
  const { j, w } = await redis.hgetall(key);
  const [u, cl, bkk] = w!.split('|');
  const doc = JSON.parse(j!) as { updatedAt: string | null; source: string };
  await redis.hdel(key, 'w');
  await redis.hset(key, 'c', j!.slice(1, 1 + Number(cl)), 'uj', JSON.stringify(doc.updatedAt), 'u', u!, 'bkk', bkk!, 's', JSON.stringify(doc.source), 'm', '0');
}
