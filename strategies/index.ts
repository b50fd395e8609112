/**
 * The strategy registry: name → factory. An unknown name fails with the list of known ones.
 * The config schema's STRATEGY_NAMES and this map must name the same four strategies
 * (test/unit/strategy-registry.test.ts checks it).
 */
import type { StrategyName } from '../src/config/schema.js';
import type { Strategy, StrategyContext } from '../src/strategy/strategy.js';
import { CachedPollStrategy } from './cached-poll.js';
import { DeltacloudPollStrategy } from './deltacloud-poll.js';
import { OnDemandStrategy } from './on-demand.js';
import { WebhookStrategy } from './webhook.js';

export type StrategyFactory = (ctx: StrategyContext) => Strategy;

export const STRATEGIES: Readonly<Record<StrategyName, StrategyFactory>> = {
  'on-demand': (ctx) => new OnDemandStrategy(ctx),
  'cached-poll': (ctx) => new CachedPollStrategy(ctx),
  webhook: (ctx) => new WebhookStrategy(ctx),
  'deltacloud-poll': (ctx) => new DeltacloudPollStrategy(ctx),
};

export function createStrategy(name: string, ctx: StrategyContext): Strategy {
  const factory = (STRATEGIES as Record<string, StrategyFactory | undefined>)[name];
  if (!factory) {
    throw new Error(`strategy.name '${name}' is unknown; use one of ${Object.keys(STRATEGIES).join(', ')}`);
  }
  return factory(ctx);
}

export { CachedPollStrategy, DeltacloudPollStrategy, OnDemandStrategy, WebhookStrategy };
