/**
 * How fresh the cache is: instances counted by the age of their last observation, in
 * buckets (< 1 s, < 10 s, < 1 min, older). It must look at every instance, so it walks the
 * instance index in chunks of one short Lua call each: Redis is never held for long, even
 * with 100,000 instances, and other commands interleave between chunks.
 */
import type { Redis, Result } from 'ioredis';
import { Keys } from './keys.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    hgwAgeChunk(...args: (string | number)[]): Result<(string | number)[], Context>;
  }
}

/** Upper bounds of the age buckets (ms); anything older lands in the last bucket. */
export const AGE_BUCKETS_MS = [1_000, 10_000, 60_000] as const;

/**
 * Counts one chunk of the instance index after a lex cursor.
 * KEYS: instance index. ARGV: prefix, cursor ('' = start), chunk size, now ms, bucket bounds…
 * Returns {next id or '', vanished, bucket counts…}. Vanished instances (tombstones) are
 * counted apart: they are not refreshed any more, so their age says nothing.
 */
const AGE_CHUNK_LUA = `
local from = '-'
if ARGV[2] ~= '' then from = '(' .. ARGV[2] end
local ids = redis.call('ZRANGEBYLEX', KEYS[1], from, '+', 'LIMIT', 0, tonumber(ARGV[3]))
local now = tonumber(ARGV[4])
local nb = #ARGV - 4
local counts = {}
for b = 1, nb + 1 do counts[b] = 0 end
local vanished = 0
for _, id in ipairs(ids) do
  local r = redis.call('HMGET', ARGV[1] .. 'i:' .. id, 'ob', 'st')
  if r[2] == 'vanished' then
    vanished = vanished + 1
  elseif r[1] then
    local age = now - tonumber(r[1])
    local b = nb + 1
    for i = 1, nb do
      if age < tonumber(ARGV[4 + i]) then b = i break end
    end
    counts[b] = counts[b] + 1
  end
end
local next = ''
if #ids == tonumber(ARGV[3]) then next = ids[#ids] end
local out = {next, vanished}
for b = 1, nb + 1 do out[#out + 1] = counts[b] end
return out
`;

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
    if (typeof (redis as unknown as Record<string, unknown>).hgwAgeChunk !== 'function') redis.defineCommand('hgwAgeChunk', { lua: AGE_CHUNK_LUA, numberOfKeys: 1 });
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
