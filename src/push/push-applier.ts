/**
 * Applies what pushes say. A notification that carries a state is observed directly, with
 * the notification's own time as backend time: the store's "older never overwrites newer"
 * rule absorbs reordering (competing consumers, redeliveries) and duplicates. The backend is
 * asked only for what a push cannot say: a server or stack the cache has never seen (its
 * template resource name, its stack), a stack's outputs after it completes, and Heat
 * event-sink messages (which name a resource, not the server's live status). Those fetches
 * go through the strategy's coalesced refresh.
 */
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Deployment } from '../model/types.js';
import type { InstancePush } from '../store/instance-push.js';
import type { StateStore } from '../store/state-store.js';
import type { PushHint } from '../strategy/strategy.js';
import type { InstanceUpdate, PushUpdate, StackUpdate } from './notification-parsers.js';

export interface PushApplierDeps {
  store: StateStore;
  logger: Logger;
  metrics?: Metrics;
  now: () => number;
  /** Served as `source`. @defaultValue 'webhook' */
  source?: string;
  /** Backends some running strategy reads: an instance they own ignores other backends (ownership). */
  liveOwners?: () => readonly string[];
  /** Fetches what the hints name from the backend; resolves once it is stored (or given up). */
  fetch: (hints: PushHint[]) => Promise<void>;
}

export interface ApplyResult {
  /** Updates observed straight from the push. */
  observed: number;
  /** Hints handed to the backend fetch. */
  fetched: number;
}

/** After a stack finishes one of these, its outputs may have changed: the push cannot carry them. */
const OUTPUTS_SETTLED = /^(CREATE|UPDATE|ROLLBACK|RESTORE|ADOPT)_COMPLETE$/;

export class PushApplier {
  private readonly source: string;

  constructor(private readonly deps: PushApplierDeps) {
    this.source = deps.source ?? 'webhook';
  }

  /** Stores what `updates` say; resolves once every observation (and fetch) is stored. */
  async apply(updates: PushUpdate[]): Promise<ApplyResult> {
    const hints: PushHint[] = [];
    const instances: InstanceUpdate[] = [];
    const stacks: StackUpdate[] = [];
    for (const u of updates) {
      if (u.kind === 'hint') hints.push(u.hint);
      else if (u.kind === 'instance') instances.push(u);
      else stacks.push(u);
    }
    // Stacks first: a stack deleted in this batch vanishes its servers before they are looked at.
    let observed = 0;
    for (const stack of stacks) observed += await this.applyStack(stack, hints);
    observed += await this.applyInstances(instances, hints);
    if (hints.length > 0) await this.deps.fetch(hints);
    return { observed, fetched: hints.length };
  }

  /** Who observes: this strategy, under the ownership of the backends read now. */
  private observer() {
    const liveOwners = this.deps.liveOwners?.();
    return { source: this.source, ...(liveOwners ? { liveOwners } : {}) };
  }

  private ctx(atMs: number | null) {
    // The notification's time is when the state held; without one, now.
    return { ...this.observer(), observedAtMs: atMs ?? this.deps.now() };
  }

  private count(outcome: string, n = 1): void {
    this.deps.metrics?.observations.inc({ source: this.source, outcome }, n);
  }

  private async applyInstances(updates: InstanceUpdate[], hints: PushHint[]): Promise<number> {
    if (updates.length === 0) return 0;
    const now = this.deps.now();
    // One round trip: the observe script patches each cached record with what its push says,
    // one script call per OBSERVE_BATCH updates, in the body's order. The notification's time
    // is when the state held (without one, now), so ordering is decided per notification.
    const results = await this.deps.store.observePushes(updates.map((u) => toPush(u, now)), this.observer());
    const outcomes = new Map<string, number>();
    let observed = 0;
    results.forEach(({ outcome }, i) => {
      if (outcome === 'unknown') {
        // Not cached (or cached without its stack): its stack and template resource name are
        // not in the notification.
        const update = updates[i]!;
        hints.push({ backendId: update.backendId, event: update.event, instanceId: update.instanceId, ...(update.stackId ? { stackId: update.stackId } : {}) });
        return;
      }
      observed++;
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    });
    for (const [outcome, n] of outcomes) this.count(outcome, n);
    return observed;
  }

  private async applyStack(update: StackUpdate, hints: PushHint[]): Promise<number> {
    const known = await this.deps.store.getDeployment(update.stackId);
    const hint: PushHint = { backendId: update.backendId, event: update.event, stackId: update.stackId, ...(update.stackName ? { stackName: update.stackName } : {}) };
    const creating = update.status === 'CREATE_IN_PROGRESS';
    if (!known && !creating) {
      // A stack we never saw, past its start: show it (outputs, servers) once.
      hints.push(hint);
      return 0;
    }
    const base: Deployment | null = known;
    const ctx = this.ctx(update.atMs);
    const result = await this.deps.store.observeDeployment(
      {
        id: update.stackId,
        name: update.stackName ?? base?.name ?? update.stackId,
        status: update.status,
        statusReason: update.statusReason,
        // A stack just starting has no outputs yet; otherwise the last ones seen stand.
        outputs: base?.outputs ?? [],
        backendId: update.backendId,
        updatedAt: update.heatUpdatedAt ?? base?.updatedAt ?? null,
      },
      ctx,
    );
    this.count(result.outcome);
    if (update.status === 'DELETE_COMPLETE') {
      // Heat says the stack is gone, so its servers are.
      await this.deps.store.vanishInstances(await this.deps.store.instanceIdsOf(update.stackId), ctx);
    } else if (OUTPUTS_SETTLED.test(update.status) && result.outcome === 'changed') {
      hints.push(hint);
    }
    return 1;
  }
}

/** What an update says, as a patch of the cached record. */
function toPush(update: InstanceUpdate, now: number): InstancePush {
  // A deleted server keeps the addresses it had; a format without public addresses keeps those seen.
  const push: InstancePush = {
    id: update.instanceId,
    backendId: update.backendId,
    state: update.state,
    rawStatus: update.rawStatus,
    atMs: update.atMs,
    namesStack: update.stackId !== undefined,
    observedAtMs: update.atMs ?? now,
  };
  if (update.state !== 'vanished' && update.addresses) push.addresses = update.addresses;
  return push;
}
