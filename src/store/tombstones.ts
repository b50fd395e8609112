/**
 * Tombstones: a deleted deployment or vanished instance stays in the cache, served only when
 * asked for (`?state=vanished`, `?status=DELETE_COMPLETE`, `?include=deleted`), for
 * `feed.tombstoneTtlMs`, so a late reader still learns what became of it. The observe
 * script indexes each tombstone by deletion time; {@link Tombstones.purge} removes the
 * expired ones with their index entries.
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { walkRecordIndexes } from './record-indexes.js';
import { withScripts } from './script-registry.js';

export class Tombstones {
  /** Whether this process has indexed the deleted records earlier versions left (once is enough). */
  private adopted = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {
    withScripts(redis, ['hgwPurgeTombstones', 'hgwAdoptTombstones']);
  }

  /**
   * One sweep, idempotent and cheap when nothing expired: on a process's first (until one
   * succeeds), {@link adoptUnindexed}; then {@link purge} up to `cutoffMs`. Returns how many
   * it indexed and purged.
   */
  async sweep(cutoffMs: number): Promise<{ indexed: number; purged: number }> {
    let indexed = 0;
    if (!this.adopted) {
      indexed = await this.adoptUnindexed();
      this.adopted = true;
    }
    return { indexed, purged: await this.purge(cutoffMs) };
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

  /**
   * Indexes deleted records that are not in the tombstone index yet: versions before
   * tombstones marked a deleted record without indexing it, so it was never purged. Each is
   * scored by its last observation and purged like any tombstone. Reads every record's
   * tombstone flag, `batch` per script call; idempotent. Returns how many it indexed.
   */
  adoptUnindexed({ batch = 1_000 }: { batch?: number } = {}): Promise<number> {
    return walkRecordIndexes(this.keys, (index, kind, cursor) => this.redis.hgwAdoptTombstones(index, this.keys.tombstones, this.keys.prefix, kind, cursor, batch));
  }

  /** Tombstones kept right now. */
  count(): Promise<number> {
    return this.redis.zcard(this.keys.tombstones);
  }
}
