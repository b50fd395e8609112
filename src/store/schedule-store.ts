/**
 * Due sets: when each strategy target (a deployment, a backend, a subscription) is next due,
 * so intervals differ per target and carry jitter. Taking due members leases them, so two
 * replicas never take the same member and a crashed taker does not lose it.
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { withScripts } from './script-registry.js';

export interface TakeDueOptions {
  /** Members taken at most. */
  limit: number;
  /** Taken members are due again after this long unless their worker sets a time. */
  leaseMs: number;
}

export class ScheduleStore {
  private readonly redis: Redis;

  constructor(
    redis: Redis,
    private readonly keys: Keys,
  ) {
    this.redis = withScripts(redis);
  }

  /**
   * Sets when `member` of `set` is next due. `onlyIfAbsent` keeps an existing time;
   * `onlyIfEarlier` only ever moves it forward in line.
   */
  async setDue(set: string, member: string, atMs: number, options: { onlyIfAbsent?: boolean; onlyIfEarlier?: boolean } = {}): Promise<void> {
    const key = this.keys.due(set);
    if (options.onlyIfAbsent) await this.redis.zadd(key, 'NX', Math.round(atMs), member);
    else if (options.onlyIfEarlier) await this.redis.zadd(key, 'LT', Math.round(atMs), member);
    else await this.redis.zadd(key, Math.round(atMs), member);
  }

  /** The members due at `nowMs`, leased. */
  takeDue(set: string, nowMs: number, options: TakeDueOptions): Promise<string[]> {
    return this.redis.hgwTakeDue(this.keys.due(set), Math.round(nowMs), options.limit, Math.round(options.leaseMs));
  }

  /** Forgets members (or the whole set). */
  async removeDue(set: string, members?: string[]): Promise<void> {
    if (!members) await this.redis.del(this.keys.due(set));
    else if (members.length > 0) await this.redis.zrem(this.keys.due(set), ...members);
  }

  /** Members and their due times. */
  async dueTimes(set: string): Promise<Map<string, number>> {
    const flat = await this.redis.zrange(this.keys.due(set), 0, '-1', 'WITHSCORES');
    const out = new Map<string, number>();
    for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i]!, Number(flat[i + 1]));
    return out;
  }
}
