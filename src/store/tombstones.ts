/**
 * Tombstones: a deleted deployment or vanished instance stays in the cache, served only when
 * asked for (`?state=vanished`, `?status=DELETE_COMPLETE`, `?include=deleted`), for
 * `feed.tombstoneTtlMs`, so a late reader still learns what became of it. The observe
 * script indexes each tombstone by deletion time; {@link Tombstones.purge} removes the
 * expired ones with their index entries.
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { withScripts } from './script-registry.js';

export class Tombstones {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {
    withScripts(redis, ['hgwPurgeTombstones']);
  }

  /** Removes tombstones deleted at or before `cutoffMs`, `batch` per script call; returns how many. */
  async purge(cutoffMs: number, { batch = 500 }: { batch?: number } = {}): Promise<number> {
    let total = 0;
    for (;;) {
      const purged = await this.redis.hgwPurgeTombstones(this.keys.tombstones, this.keys.prefix, Math.floor(cutoffMs), batch);
      total += purged;
      // A short batch means the expired range is exhausted (or held revived records only).
      if (purged < batch) return total;
    }
  }

  /** Tombstones kept right now. */
  count(): Promise<number> {
    return this.redis.zcard(this.keys.tombstones);
  }
}
