/**
 * The one entry for pushes, whatever carried them (HTTP ingest, AMQP): under the `webhook`
 * strategy what a push says is stored at once (PushApplier) and what it cannot say is
 * fetched through the strategy's coalesced refresh; any other strategy gets the pushes as
 * hints, which it may ignore (it has its own schedule).
 */
import type { Gateway } from '../gateway.js';
import type { ActiveStrategy } from '../strategy/strategy-runtime.js';
import type { PushHint } from '../strategy/strategy.js';
import type { PushUpdate } from './notification-parsers.js';
import { PushApplier, type ApplyResult } from './push-applier.js';

export interface PushIngestOptions {
  /**
   * Wait for backend fetches before resolving: AMQP acknowledges a message only once
   * everything it caused is stored. HTTP answers as soon as the direct observations are in.
   */
  awaitFetches: boolean;
}

/** The hints an update stands for (for strategies that refresh rather than trust). */
export function hintOf(update: PushUpdate): PushHint {
  if (update.kind === 'hint') return update.hint;
  if (update.kind === 'stack') {
    return { backendId: update.backendId, event: update.event, stackId: update.stackId, ...(update.stackName ? { stackName: update.stackName } : {}) };
  }
  return { backendId: update.backendId, event: update.event, instanceId: update.instanceId, ...(update.stackId ? { stackId: update.stackId } : {}) };
}

export function createPushApplier(
  gateway: Pick<Gateway, 'store' | 'logger' | 'metrics' | 'now'>,
  active: ActiveStrategy,
  options: PushIngestOptions,
): (updates: PushUpdate[]) => Promise<ApplyResult> {
  const log = gateway.logger.child({ component: 'push' });
  return async (updates) => {
    const strategy = active.current();
    if (strategy.name !== 'webhook') {
      await strategy.onPush(updates.map(hintOf));
      return { observed: 0, fetched: updates.length };
    }
    const fetch = (hints: PushHint[]): Promise<void> => {
      const run = strategy.onPush(hints);
      if (options.awaitFetches) return run;
      run.catch((err: Error) => log.warn('push handling failed', { error: err.message }));
      return Promise.resolve();
    };
    return new PushApplier({ store: gateway.store, logger: gateway.logger, metrics: gateway.metrics, now: gateway.now, fetch }).apply(updates);
  };
}
