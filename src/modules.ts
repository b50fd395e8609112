/** The modules a production gateway runs, in start order. */
import { createConductorApiModule } from './api/conductor-api-module.js';
import type { ModuleFactory } from './gateway.js';
import { PushModule, type PushModuleOptions } from './push/push-module.js';
import { createStatusModule, type StatusModuleOptions } from './status/status-module.js';
import { runtimeSources } from './status/status-sources.js';
import { createStrategyModules, type StrategyModulesOptions } from './strategy/strategy-modules.js';
import { createWebhookModule } from './webhooks/create-webhook-module.js';

export function defaultModules(
  options: { strategies?: StrategyModulesOptions; push?: PushModuleOptions; status?: StatusModuleOptions } = {},
): ModuleFactory[] {
  return [
    (deps) => {
      const strategy = createStrategyModules(deps, options.strategies);
      const webhooks = createWebhookModule(deps);
      // AMQP consumers run for the backends whose strategy trusts pushes.
      const push = new PushModule(
        { config: deps.config, store: deps.stores.cache, metrics: deps.metrics, logger: deps.logger, now: deps.now },
        strategy.runtime,
        options.push,
      );
      strategy.admin.include(push);
      return [
        ...strategy.modules,
        // Reads go through the strategy of the backend that owns what is read.
        createConductorApiModule(deps, strategy.runtime),
        webhooks,
        push,
        // The status page reads the runtime and the webhook module through their public faces.
        createStatusModule(deps, runtimeSources(deps, strategy.runtime, webhooks), options.status),
      ];
    },
  ];
}
