/** The modules a production gateway runs, in start order. */
import type { ModuleFactory } from './gateway.js';
import { createStrategyRuntime } from './strategy/strategy-runtime.js';
import { createWebhookModule } from './webhooks/create-webhook-module.js';

export function defaultModules(): ModuleFactory[] {
  return [createStrategyRuntime(), (gateway) => createWebhookModule(gateway)];
}
