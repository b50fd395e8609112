/**
 * The feed's entry layout, and the check that keeps a rolling restart from mixing layouts.
 *
 * Layout 2 stores a change's two documents as stream fields and the reader builds the event
 * (src/store/lua/feed.ts). This version reads layout-1 entries, but a replica of an earlier
 * version reads layout-2 entries as empty events and would fan them out as webhooks with empty
 * bodies. Every replica's heartbeat card says which layout it reads (`feedLayout`; an earlier
 * version's card has none), and a gateway refuses to start while a replica that cannot read
 * this layout is alive: an upgrade across the change stops the old replicas first (a rolling
 * restart stalls with this error instead of sending empty webhooks).
 */
import { REPLICA_ALIVE_MS, type ReplicaRegistry } from './replica-registry.js';
import type { Stores } from './stores.js';

/** The feed entry layout this version writes. */
export const FEED_LAYOUT = 2;

/** A heartbeat card as far as this check reads it. */
interface LayoutCard {
  id: string;
  host?: string;
  pid?: number;
  version?: string;
  feedLayout?: number;
}

/**
 * Throws, naming them, when live replicas cannot read the entries this version writes. Only
 * replicas with a status module beat; one without is not seen (docs/operations.md).
 */
export async function refuseEarlierFeedReaders(registry: ReplicaRegistry, nowMs: number): Promise<void> {
  const earlier = (await registry.alive<LayoutCard>(nowMs)).map((r) => r.card).filter((c) => (c.feedLayout ?? 1) < FEED_LAYOUT);
  if (earlier.length === 0) return;
  const named = earlier.map((c) => `${c.id} (version ${c.version ?? '?'}, host ${c.host ?? '?'}, pid ${c.pid ?? '?'})`).join(', ');
  throw new Error(
    `replicas of an earlier version are running on this Redis and cannot read the feed entries this version writes: ${named}. ` +
      'Stop every replica of the earlier version, then start this one (docs/operations.md, "Upgrading")',
  );
}

/** The check as the first thing a gateway starts (a Redis outage meanwhile is waited out like any module's). */
export function feedLayoutGuard(stores: Stores, now: () => number): { name: string; start(): Promise<void> } {
  const registry = stores.replicas(REPLICA_ALIVE_MS);
  return { name: 'feed-layout', start: () => refuseEarlierFeedReaders(registry, now()) };
}
