/**
 * Which strategy is in force: the default and, per backend, an override. Recorded in Redis
 * and announced on a pub/sub channel, so every replica converges on it; a real change appends
 * one `gateway.strategy_changed` event in the same atomic step.
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { withScripts } from './script-registry.js';
import { newEventId, type FeedLimits } from './state-store.js';

/** One recorded choice. `by` is JSON (`"config"`, `"admin:ops"`). */
export interface StoredStrategy {
  name?: string;
  since?: string;
  by?: string;
  /** The name the config gave when this was last recorded (a config edit wins over it). */
  configName?: string;
}

/** The whole record: the default (scope '') and each backend's override. */
export interface StoredAssignments {
  defaults: StoredStrategy;
  backends: Map<string, StoredStrategy>;
}

export class StrategyStateStore {
  private readonly redis: Redis;

  constructor(
    redis: Redis,
    private readonly keys: Keys,
    private readonly limits: FeedLimits,
    private readonly now: () => number,
    /** Opens the connection a subscription listens on. */
    private readonly openSubscriber: () => Redis,
  ) {
    this.redis = withScripts(redis, ['hgwSwitchStrategy']);
  }

  /** The recorded choice of one scope ('' = the default). */
  async get(scope = ''): Promise<StoredStrategy> {
    const all = await this.all();
    return scope === '' ? all.defaults : (all.backends.get(scope) ?? {});
  }

  /** Every recorded choice. */
  async all(): Promise<StoredAssignments> {
    const hash = await this.redis.hgetall(this.keys.strategyState);
    const defaults: StoredStrategy = {};
    const backends = new Map<string, StoredStrategy>();
    for (const [field, value] of Object.entries(hash)) {
      const colon = field.indexOf(':');
      const key = (colon < 0 ? field : field.slice(0, colon)) as keyof StoredStrategy;
      if (colon < 0) defaults[key] = value;
      else {
        const backend = field.slice(colon + 1);
        const entry = backends.get(backend) ?? {};
        entry[key] = value;
        backends.set(backend, entry);
      }
    }
    return { defaults, backends };
  }

  /**
   * Records `name` for `scope`; appends the event and announces it when it is a change.
   * `configName` is what the config names for that scope now.
   */
  async record(scope: string, name: string, by: string, configName: string): Promise<{ changed: boolean; previous: string | null; appended: boolean }> {
    const now = this.now();
    const [changed, previous, appended] = await this.redis.hgwSwitchStrategy(
      this.keys.strategyState,
      this.keys.feed,
      scope,
      name,
      JSON.stringify(by),
      configName,
      new Date(now).toISOString(),
      newEventId(),
      this.limits.maxLength,
      `${Math.max(0, now - this.limits.maxAgeMs)}-0`,
      this.keys.strategyChannel,
    );
    return { changed: changed === 1, previous: previous || null, appended: appended === 1 };
  }

  /** Forgets a backend's override (its backend left the config, or it follows the default again). */
  async forget(scope: string): Promise<void> {
    if (scope === '') return;
    await this.redis.hdel(this.keys.strategyState, ...['name', 'since', 'by', 'configName'].map((f) => `${f}:${scope}`));
  }

  /** Calls `onChange(scope, name)` for every announced switch; resolves to the unsubscribe. */
  async subscribe(onChange: (scope: string, name: string) => void): Promise<() => Promise<void>> {
    const subscriber = this.openSubscriber();
    subscriber.on('message', (_channel: string, message: string) => {
      const eq = message.lastIndexOf('=');
      onChange(message.slice(0, Math.max(0, eq)), message.slice(eq + 1));
    });
    await subscriber.subscribe(this.keys.strategyChannel);
    return async () => {
      await subscriber.quit().catch(() => subscriber.disconnect());
    };
  }
}
