/**
 * The `redis` config section (DESIGN §10 "Redis deployment"): one node (`url`), a Sentinel
 * group (`sentinels` + `sentinelName`) or a Redis Cluster (`cluster`). Apart from the rest of
 * the schema because the three topologies carry their own cross-field rules.
 */
import { z } from 'zod';
import { durationMs, MINUTE, SECOND } from './zod-helpers.js';

const redisUrl = (example: string) =>
  z.string({ error: `must be a redis:// URL string, e.g. ${example}` }).refine((v) => /^rediss?:\/\/[^\s/]+/.test(v) && URL.canParse(v), {
    message: `must be a redis:// or rediss:// URL, e.g. ${example}`,
  });

export const redisSchema = z
  .object({
    /** A single node. Ignored (with one log line) when `sentinels` or `cluster` is set. @defaultValue redis://127.0.0.1:6379 */
    url: redisUrl('redis://127.0.0.1:6379').default('redis://127.0.0.1:6379'),
    /**
     * Sentinel: where the sentinels listen. Credentials in these URLs authenticate to the
     * sentinels; `username`/`password` authenticate to the primary they name.
     */
    sentinels: z.array(redisUrl('redis://10.0.0.5:26379')).min(1, 'must list at least one sentinel, e.g. [redis://10.0.0.5:26379]').optional(),
    /** Sentinel: the monitored primary's name (`sentinel monitor <name> …`). */
    sentinelName: z.string().min(1).max(128).optional(),
    /**
     * Cluster: seed nodes (any subset; the rest is discovered). Credentials in the first URL
     * authenticate to every node. Every key shares the prefix hash tag, so one slot holds the
     * cache, the feed and the queues.
     */
    cluster: z.array(redisUrl('redis://10.0.0.7:7000')).min(1, 'must list at least one node, e.g. [redis://10.0.0.7:7000]').optional(),
    /** Sentinel: credentials of the primary and replicas (single node and cluster take them from the URL). */
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    /** Every key starts with this; a `{hash tag}` keeps the cache and feed in one Redis Cluster slot. */
    keyPrefix: z
      .string()
      .regex(/^\{[A-Za-z0-9_.-]{1,64}\}:$/, 'must be a hash tag followed by a colon, e.g. "{hgw}:"')
      .default('{hgw}:'),
    /** @defaultValue 5000 */
    connectTimeoutMs: durationMs(100, MINUTE).default(5 * SECOND),
    /** Timeout of the readiness probe's PING. @defaultValue 1000 */
    pingTimeoutMs: durationMs(50, 30 * SECOND).default(SECOND),
  })
  .strict()
  .superRefine((redis, ctx) => {
    if (redis.sentinels && redis.cluster) {
      ctx.addIssue({ code: 'custom', path: ['cluster'], message: 'cannot be combined with redis.sentinels; a deployment is either Sentinel or Cluster' });
    }
    if (redis.sentinels && !redis.sentinelName) {
      ctx.addIssue({ code: 'custom', path: ['sentinelName'], message: "is required with redis.sentinels: the primary's name from `sentinel monitor <name> …`, e.g. mymaster" });
    }
    if (redis.sentinelName && !redis.sentinels) {
      ctx.addIssue({ code: 'custom', path: ['sentinels'], message: 'is required with redis.sentinelName: list the sentinels, e.g. [redis://10.0.0.5:26379]' });
    }
  });

export type RedisConfig = z.infer<typeof redisSchema>;
