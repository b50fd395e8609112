/** The modules a production gateway runs, in start order. */
import { createConductorApiModule } from './api/conductor-api-module.js';
import type { ModuleFactory } from './gateway.js';
import { createStrategyModules, type StrategyModulesOptions } from './strategy/strategy-modules.js';
import { createWebhookModule } from './webhooks/create-webhook-module.js';

export function defaultModules(options: { strategies?: StrategyModulesOptions } = {}): ModuleFactory[] {
  return [
    (deps) => {
      const strategy = createStrategyModules(deps, options.strategies);
      // Reads go through whichever strategy the runtime is running at the time of the read.
      return [...strategy.modules, createConductorApiModule(deps, strategy.runtime)];
    },
    (deps) => createWebhookModule(deps),
  ];
}
