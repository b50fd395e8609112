/**
 * The one entry for pushes, whatever carried them (HTTP ingest, AMQP). Pushes go to the
 * strategy of the backend that sent them: under a strategy that trusts pushes (`webhook`)
 * what a push says is stored at once (PushApplier) and what it cannot say is fetched through
 * the strategy's coalesced refresh; any other strategy gets the pushes as hints, which it may
 * ignore (it has its own schedule).
 */
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { StateStore } from '../store/state-store.js';
import type { PushHint, Strategy } from '../strategy/strategy.js';
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

/** Which strategy a backend's pushes go to (the strategy runtime). */
export interface PushRouter {
  strategyFor(backendId: string): Strategy;
  /** Backends some running strategy reads (instance ownership). */
  liveOwners?(): readonly string[];
}

export interface PushApplierContext {
  store: StateStore;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
}

function backendOf(update: PushUpdate): string {
  return update.kind === 'hint' ? update.hint.backendId : update.backendId;
}

export function createPushApplier(
  deps: PushApplierContext,
  router: PushRouter,
  options: PushIngestOptions & { background?: (work: Promise<void>) => void },
): (updates: PushUpdate[]) => Promise<ApplyResult> {
  const log = deps.logger.child({ component: 'push' });
  return async (updates) => {
    const byBackend = new Map<string, PushUpdate[]>();
    for (const update of updates) {
      // Appended in place: copying the group per update made a list of n cost n²/2 copies.
      const group = byBackend.get(backendOf(update));
      if (group) group.push(update);
      else byBackend.set(backendOf(update), [update]);
    }
    const total: ApplyResult = { observed: 0, fetched: 0 };
    for (const [backendId, group] of byBackend) {
      // Each backend's pushes go to its own strategy.
      const strategy = router.strategyFor(backendId);
      if (!strategy.trustsPushes) {
        await strategy.onPush(group.map(hintOf));
        total.fetched += group.length;
        continue;
      }
      const fetch = (hints: PushHint[]): Promise<void> => {
        const run = strategy.onPush(hints);
        if (options.awaitFetches) return run;
        const settled = run.catch((err: Error) => {
          log.warn('push handling failed', { error: err.message });
        });
        options.background?.(settled);
        return Promise.resolve();
      };
      const result = await new PushApplier({ store: deps.store, logger: deps.logger, metrics: deps.metrics, now: deps.now, source: strategy.name, fetch, ...(router.liveOwners ? { liveOwners: () => router.liveOwners!() } : {}) }).apply(group);
      total.observed += result.observed;
      total.fetched += result.fetched;
    }
    return total;
  };
}
