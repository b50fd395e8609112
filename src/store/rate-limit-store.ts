/**
 * Per-token rate-limit buckets shared by every replica (`auth.rateLimit`). Token buckets run
 * on Redis' clock (TIME), so skewed replica clocks cannot mint tokens.
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { withScripts } from './script-registry.js';

export class RateLimitStore {
  private readonly redis: Redis;

  constructor(
    redis: Redis,
    private readonly keys: Keys,
  ) {
    this.redis = withScripts(redis, ['hgwTakeToken']);
  }

  /** Takes one token from `tokenName`'s bucket: allowed, or how long to wait. */
  async take(tokenName: string, limit: { perSecond: number; burst: number }): Promise<{ allowed: boolean; retryAfterMs: number }> {
    const [allowed, retryAfterMs] = await this.redis.hgwTakeToken(this.keys.rateLimit(tokenName), limit.perSecond, limit.burst);
    return { allowed: allowed === 1, retryAfterMs };
  }
}
