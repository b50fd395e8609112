/**
 * What the strategy's last attempt to refresh each scope said, shared by every replica: a
 * scope is a backend (`b:<backendId>`: its stack list or instance listing) or a deployment
 * (`d:<deploymentId>`: its stack and servers). A failed attempt records why; the next
 * successful one clears it. Reads of a failing scope are served `stale` with that reason at
 * once, not only once the data has aged past the strategy's bound.
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

export type RefreshScope = { backendId: string } | { deploymentId: string };

export interface RefreshFailure {
  /** Strategy whose attempt failed. */
  strategy: string;
  /** When, ISO-8601. */
  at: string;
  reason: string;
}

/** Longest failure reason kept (backend error texts can be long). */
const MAX_REASON = 300;

export function scopeField(scope: RefreshScope): string {
  return 'backendId' in scope ? `b:${scope.backendId}` : `d:${scope.deploymentId}`;
}

export class RefreshHealth {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly now: () => number = Date.now,
  ) {}

  private get key(): string {
    return this.keys.refreshFailures;
  }

  /** The last attempt on `scope` by `strategy` failed with `reason`. */
  async failed(scope: RefreshScope, strategy: string, reason: string): Promise<void> {
    const failure: RefreshFailure = { strategy, at: new Date(this.now()).toISOString(), reason: reason.slice(0, MAX_REASON) };
    await this.redis.hset(this.key, scopeField(scope), JSON.stringify(failure));
  }

  /** The last attempt on `scopes` succeeded. */
  async succeeded(...scopes: RefreshScope[]): Promise<void> {
    if (scopes.length > 0) await this.redis.hdel(this.key, ...scopes.map(scopeField));
  }

  /** Every failing scope (field → failure); usually empty, so one small HGETALL per read. */
  async failures(): Promise<Map<string, RefreshFailure>> {
    const raw = await this.redis.hgetall(this.key);
    const out = new Map<string, RefreshFailure>();
    for (const [field, json] of Object.entries(raw)) {
      try {
        out.set(field, JSON.parse(json) as RefreshFailure);
      } catch {
        // A foreign value is not ours to judge; ignore it.
      }
    }
    return out;
  }
}
