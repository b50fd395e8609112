/** The modules a production gateway runs, in start order. */
import { createConductorApiModule } from './api/conductor-api-module.js';
import type { ModuleFactory } from './gateway.js';
import { createStatusModule, type StatusModuleOptions } from './status/status-module.js';
import { runtimeSources } from './status/status-sources.js';
import { StrategyRuntime, type StrategyRuntimeOptions } from './strategy/strategy-runtime.js';
import { PushModule, type PushModuleOptions } from './push/push-module.js';
import { createWebhookModule, type WebhookModule } from './webhooks/create-webhook-module.js';

export function defaultModules(
  options: { strategies?: StrategyRuntimeOptions; push?: PushModuleOptions; status?: StatusModuleOptions } = {},
): ModuleFactory[] {
  let runtime: StrategyRuntime | undefined;
  let webhooks: WebhookModule | undefined;
  return [
    (gateway) => (runtime = new StrategyRuntime(gateway, options.strategies)),
    // Reads go through whichever strategy the runtime is running at the time of the read.
    (gateway) => createConductorApiModule(gateway, { current: () => runtime!.current() }),
    (gateway) => (webhooks = createWebhookModule(gateway)),
    // AMQP consumers run while the runtime runs the webhook strategy.
    (gateway) => new PushModule(gateway, { current: () => runtime!.current() }, options.push),
    // The status page reads the runtime and the webhook module through their public faces.
    (gateway) => createStatusModule(gateway, runtimeSources(gateway, runtime!, webhooks!), options.status),
  ];
}
