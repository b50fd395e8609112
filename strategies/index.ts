/**
 * The strategies this gateway offers: one array of definitions. The config schema, the CLI,
 * the OpenAPI document, the conformance suite, the benchmark and the docs table all derive
 * from it. Adding a strategy is one file in this directory plus one import and one element
 * here (docs/adding-a-strategy.md).
 */
import type { AnyStrategyDefinition } from '../src/strategy/define-strategy.js';
import cachedPoll from './cached-poll.js';
import deltacloudPoll from './deltacloud-poll.js';
import onDemand from './on-demand.js';
import webhook from './webhook.js';

export const STRATEGIES: readonly AnyStrategyDefinition[] = [onDemand, cachedPoll, webhook, deltacloudPoll];
