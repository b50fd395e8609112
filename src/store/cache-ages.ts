/**
 * How fresh the cache is: instances counted by the age of their last observation, in
 * buckets (< 1 s, < 10 s, < 1 min, older). It must look at every instance, so it walks the
 * instance index in chunks of one short Lua call each: Redis is never held for long, even
 * with 100,000 instances, and other commands interleave between chunks.
 */
import type { Redis } from 'ioredis';
import { Keys } from './keys.js';
import { withScripts } from './script-registry.js';

/** Upper bounds of the age buckets (ms); anything older lands in the last bucket. */
export const AGE_BUCKETS_MS = [1_000, 10_000, 60_000] as const;


export interface CacheAges {
  /** Instances per bucket: `[<1 s, <10 s, <1 min, older]`. */
  buckets: number[];
  /** Instances kept as tombstones (vanished), not in the buckets. */
  vanished: number;
  /** Lua calls the walk took. */
  chunks: number;
}

export class CacheAgeReader {
  private readonly keys: Keys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    /** Instances per Lua call. @defaultValue 2000 */
    private readonly chunkSize = 2_000,
  ) {
    this.keys = new Keys(prefix);
    withScripts(redis, ['hgwAgeChunk']);
  }

  /** Walks every instance once; ages are measured against `nowMs` for the whole walk. */
  async read(nowMs: number): Promise<CacheAges> {
    const buckets = new Array<number>(AGE_BUCKETS_MS.length + 1).fill(0);
    let vanished = 0;
    let chunks = 0;
    let cursor = '';
    do {
      const reply = await this.redis.hgwAgeChunk(this.keys.allInstances, this.keys.prefix, cursor, this.chunkSize, nowMs, ...AGE_BUCKETS_MS);
      chunks += 1;
      cursor = String(reply[0] ?? '');
      vanished += Number(reply[1]);
      for (let b = 0; b < buckets.length; b++) buckets[b] = buckets[b]! + Number(reply[2 + b]);
    } while (cursor !== '');
    return { buckets, vanished, chunks };
  }
}
