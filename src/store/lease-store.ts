/**
 * Leases: one holder at a time across replicas (the webhook fan-out leader). A lease not
 * renewed within its time lapses, so a crashed holder is replaced.
 */
import type { Redis } from 'ioredis';
import { withScripts } from './script-registry.js';

export class LeaseStore {
  private readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = withScripts(redis, ['hgwLease', 'hgwLeaseRelease']);
  }

  /** Takes the free lease `key` or renews ours; true when `holder` holds it for `ttlMs`. */
  async acquire(key: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.hgwLease(key, holder, Math.round(ttlMs))) === 1;
  }

  /** Gives the lease up when `holder` holds it. */
  async release(key: string, holder: string): Promise<void> {
    await this.redis.hgwLeaseRelease(key, holder);
  }
}
