/**
 * Due sets: when each strategy target (a deployment, a backend, a subscription) is next due,
 * so intervals differ per target and carry jitter. Taking due members leases them, so two
 * replicas never take the same member and a crashed taker does not lose it.
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { isRedisUnavailable } from '../redis/redis-errors.js';
import { withScripts } from './script-registry.js';

export interface TakeDueOptions {
  /** Members taken at most. */
  limit: number;
  /** Taken members are due again after this long unless their worker sets a time. */
  leaseMs: number;
}

export interface DueOptions {
  onlyIfAbsent?: boolean;
  onlyIfEarlier?: boolean;
}

export class ScheduleStore {
  private readonly redis: Redis;
  /** Due times that could not be written during a Redis outage, by set and member. */
  private readonly pendingDue = new Map<string, { set: string; member: string; atMs: number; options: DueOptions }>();

  constructor(
    redis: Redis,
    private readonly keys: Keys,
    private readonly onFlushed: (written: number, left: number) => void = () => {},
  ) {
    this.redis = withScripts(redis, ['hgwTakeDue']);
    this.redis.on('ready', () => void this.flushPendingDue());
  }

  /**
   * Sets when `member` of `set` is next due. `onlyIfAbsent` keeps an existing time;
   * `onlyIfEarlier` only ever moves it forward in line. While Redis is away the time is kept
   * in memory and written the moment Redis is ready again: lost, it would leave the target
   * leased (taken, never rescheduled) for the whole lease.
   */
  async setDue(set: string, member: string, atMs: number, options: DueOptions = {}): Promise<void> {
    try {
      await this.writeDue(set, member, atMs, options);
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err;
      const key = `${set}\u0000${member}`;
      const previous = this.pendingDue.get(key);
      if (!previous || !(options.onlyIfAbsent || (options.onlyIfEarlier && previous.atMs <= atMs))) {
        this.pendingDue.set(key, { set, member, atMs, options });
      }
    }
  }

  /** Due times kept in memory, waiting for Redis (tests, status). */
  get pendingDueCount(): number {
    return this.pendingDue.size;
  }

  /** Writes the due times kept during an outage (Redis is ready again). */
  private async flushPendingDue(): Promise<void> {
    if (this.pendingDue.size === 0) return;
    const pending = [...this.pendingDue.values()];
    this.pendingDue.clear();
    let written = 0;
    for (const p of pending) {
      try {
        await this.writeDue(p.set, p.member, p.atMs, p.options);
        written++;
      } catch {
        // Away again: keep it for the next 'ready' (a newer time set meanwhile wins).
        const key = `${p.set}\u0000${p.member}`;
        this.pendingDue.set(key, this.pendingDue.get(key) ?? p);
      }
    }
    this.onFlushed(written, this.pendingDue.size);
  }

  private async writeDue(set: string, member: string, atMs: number, options: DueOptions): Promise<void> {
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
