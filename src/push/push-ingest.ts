/**
 * The one entry for pushes, whatever carried them (HTTP ingest, AMQP). Pushes go to the
 * strategy of the backend that sent them: under a strategy that trusts pushes (`webhook`)
 * what a push says is stored at once (PushApplier) and what it cannot say is fetched through
 * the strategy's coalesced refresh, without holding back the pushes behind it; any other strategy gets the pushes as hints, which it may
 * ignore (it has its own schedule).
 */
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { StateStore } from '../store/state-store.js';
import type { PushHint, Strategy } from '../strategy/strategy.js';
import type { PushUpdate } from './notification-parsers.js';
import { handled, PushApplier, type ApplyResult } from './push-applier.js';

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

/**
 * Applies pushes, grouped by backend. Resolves once what they say directly is stored; the
 * result's `settled` resolves once the backend fetches they started are stored too (AMQP
 * acknowledges then; HTTP answers before).
 */
export function createPushApplier(deps: PushApplierContext, router: PushRouter): (updates: PushUpdate[]) => Promise<ApplyResult> {
  return async (updates) => {
    const byBackend = new Map<string, PushUpdate[]>();
    for (const update of updates) byBackend.set(backendOf(update), [...(byBackend.get(backendOf(update)) ?? []), update]);
    const total = { observed: 0, fetched: 0 };
    const fetches: Promise<void>[] = [];
    for (const [backendId, group] of byBackend) {
      // Each backend's pushes go to its own strategy.
      const strategy = router.strategyFor(backendId);
      if (!strategy.trustsPushes) {
        await strategy.onPush(group.map(hintOf));
        total.fetched += group.length;
        continue;
      }
      const fetch = (hints: PushHint[]): Promise<void> => strategy.onPush(hints);
      const result = await new PushApplier({ store: deps.store, logger: deps.logger, metrics: deps.metrics, now: deps.now, source: strategy.name, fetch, ...(router.liveOwners ? { liveOwners: () => router.liveOwners!() } : {}) }).apply(group);
      total.observed += result.observed;
      total.fetched += result.fetched;
      fetches.push(result.settled);
    }
    return { ...total, settled: handled(Promise.all(fetches).then(() => undefined)) };
  };
}
