/**
 * The store's layout in Redis, and the check that keeps a rolling restart from mixing layouts.
 *
 * - Layout 2 stores a change's two documents as feed stream fields and the reader builds the
 *   event (src/store/lua/feed.ts). A replica of an earlier version reads those entries as
 *   empty events and would fan them out as webhooks with empty bodies.
 * - Layout 3 keeps the state index as one sorted set scored by state (`st:i`,
 *   lua/state-index.ts) instead of a set per state (`s:<state>`). A layout-2 replica would
 *   keep writing the sets per state, and its listings by state would miss every change a
 *   layout-3 replica made.
 * - Layout 4 keeps a record's version and observedAt ms in its `w` field (lua/record.ts)
 *   instead of fields of their own (`v`, `ob`, `o`). A layout-3 replica would read no version
 *   from a record a layout-4 replica wrote, and write the fields layout 4 no longer reads.
 * - Layout 5 stores no body for a delivery the fan-out sends itself while it succeeds: the
 *   worker rebuilds one from the feed when it must (webhook-payload.ts, bodyFromFeed). A
 *   layout-4 worker would send such a record with an empty body. Nothing stored moves.
 *
 * Every replica's heartbeat card says which layout it reads and writes (`feedLayout`, named
 * when only the feed had one; an earlier version's card has none, i.e. layout 1), and a
 * gateway refuses to start while a replica of an earlier layout is alive: an upgrade across a
 * change stops the old replicas first (a rolling restart stalls with this error instead).
 * Once none is alive, the new gateway moves what an earlier layout left (the sets per state,
 * the records) into this one before any module starts.
 */
import { REPLICA_ALIVE_MS, type ReplicaRegistry } from './replica-registry.js';
import type { Stores } from './stores.js';

/** The store layout this version reads and writes. */
export const STORE_LAYOUT = 5;

/** A heartbeat card as far as this check reads it. */
interface LayoutCard {
  id: string;
  host?: string;
  pid?: number;
  version?: string;
  feedLayout?: number;
}

/**
 * Throws, naming them, when live replicas run an earlier layout. Only replicas with a status
 * module beat; one without is not seen (docs/operations.md).
 */
export async function refuseEarlierLayouts(registry: ReplicaRegistry, nowMs: number): Promise<void> {
  const earlier = (await registry.alive<LayoutCard>(nowMs)).map((r) => r.card).filter((c) => (c.feedLayout ?? 1) < STORE_LAYOUT);
  if (earlier.length === 0) return;
  const named = earlier.map((c) => `${c.id} (version ${c.version ?? '?'}, host ${c.host ?? '?'}, pid ${c.pid ?? '?'})`).join(', ');
  throw new Error(
    `replicas of an earlier version are running on this Redis and cannot share the store layout this version writes: ${named}. ` +
      'Stop every replica of the earlier version, then start this one (docs/operations.md, "Upgrading")',
  );
}

/**
 * The check as the first thing a gateway starts, then the move from earlier layouts (a Redis
 * outage meanwhile is waited out like any module's).
 */
export function storeLayoutGuard(stores: Stores, now: () => number): { name: string; start(): Promise<void> } {
  const registry = stores.replicas(REPLICA_ALIVE_MS);
  return {
    name: 'store-layout',
    start: async () => {
      await refuseEarlierLayouts(registry, now());
      await stores.cache.moveToLayout(STORE_LAYOUT);
    },
  };
}
