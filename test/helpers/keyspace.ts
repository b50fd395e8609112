/**
 * The logical content of every key under a prefix, to show that a request changed nothing.
 *
 * Not DUMP: Redis rehashes a large hash or set incrementally *on reads*, which reorders its
 * serialised form while its content stays the same, so a DUMP comparison fails on a read.
 * Here each key is its type and its sorted content, so any change of value or type shows and
 * a read does not.
 */
import type { Redis } from 'ioredis';
import { prefixPattern } from '../../src/store/delete-prefix.js';

export async function keyspaceSnapshot(redis: Redis, prefix: string, volatile?: RegExp): Promise<Map<string, string>> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', prefixPattern(prefix), 'COUNT', 1_000);
    cursor = next;
    keys.push(...batch.filter((key) => !volatile?.test(key.slice(prefix.length))));
  } while (cursor !== '0');
  const out = new Map<string, string>();
  for (const key of keys) out.set(key, await contentOf(redis, key));
  return out;
}

async function contentOf(redis: Redis, key: string): Promise<string> {
  const type = await redis.type(key);
  switch (type) {
    case 'string':
      return `string:${(await redis.getBuffer(key))?.toString('base64') ?? ''}`;
    case 'hash': {
      const fields = await redis.hgetallBuffer(key);
      return `hash:${JSON.stringify(Object.entries(fields).map(([field, value]) => [field, value.toString('base64')]).sort())}`;
    }
    case 'set':
      return `set:${JSON.stringify((await redis.smembersBuffer(key)).map((m) => m.toString('base64')).sort())}`;
    case 'zset':
      return `zset:${JSON.stringify(await redis.zrange(key, '0', '-1', 'WITHSCORES'))}`;
    case 'list':
      return `list:${JSON.stringify((await redis.lrangeBuffer(key, 0, -1)).map((m) => m.toString('base64')))}`;
    case 'stream':
      return `stream:${JSON.stringify(await redis.xrange(key, '-', '+'))}`;
    default:
      return type; // 'none': gone between SCAN and here
  }
}
