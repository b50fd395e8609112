/**
 * The instance-state cache: the one write path every strategy observes through (reads are
 * inherited from {@link CacheReader}).
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { InputError } from '../errors.js';
import {
  deploymentObservationSchema,
  instanceObservationSchema,
  type Deployment,
  type DeploymentObservation,
  type Instance,
  type InstanceObservation,
} from '../model/types.js';
import { CacheReader, type FeedLimits } from './cache-reader.js';
import {
  deploymentItem,
  instanceItem,
  runObserve,
  type ObserveContext,
  type ObserveItem,
  type ObserveResult,
  type ObserveTarget,
} from './observe-calls.js';
import { instancePushSchema, pushItem, type InstancePush } from './instance-push.js';
import { plainlyValidInstance, plainlyValidPush } from './observation-check.js';
import { walkRecordIndexes } from './record-indexes.js';
import { RefreshHealth } from './refresh-health.js';
import { Tombstones } from './tombstones.js';
import { withScripts } from './script-registry.js';

export * from './cache-reader.js';
export { newEventId, OBSERVE_BATCH, OBSERVE_PIPELINE, type ObserveContext, type ObserveOutcome, type ObserveResult } from './observe-calls.js';

export type ListingScope = { deploymentId: string } | { backendId: string };

/** The last store layout that changed records or the state index (store-layout.ts). */
const RECORDS_LAYOUT = 4;

/** Backend ids become part of keys; they must not smuggle a second hash tag or separators. */
const idSchema = z.string().min(1).max(255).regex(/^[^\s{}]+$/, 'must not contain spaces or braces');

export class StateStore extends CacheReader {
  readonly tombstones: Tombstones;
  readonly refreshHealth: RefreshHealth;

  constructor(
    redis: Redis,
    prefix: string,
    private readonly feed: FeedLimits,
    private readonly now: () => number = Date.now,
    /** Told of every feed event this store's writes append (the feed-appends metric). */
    private readonly onAppend: (type: string) => void = () => {},
  ) {
    super(redis, prefix);
    withScripts(this.redis, ['hgwObserve', 'hgwMissing', 'hgwAdoptStateSets', 'hgwUpgradeRecords']);
    this.tombstones = new Tombstones(this.redis, this.keys);
    this.refreshHealth = new RefreshHealth(this.redis, this.keys, now);
  }

  private get target(): ObserveTarget {
    return { redis: this.redis, keys: this.keys, feed: this.feed, now: this.now, onAppend: this.onAppend };
  }

  // ---------------------------------------------------------------- writes

  /** Observes one instance through the atomic write path. */
  async observeInstance(obs: InstanceObservation, ctx: ObserveContext): Promise<ObserveResult> {
    const [result] = await this.observeInstances([obs], ctx);
    return result!;
  }

  /**
   * Observes many instances in one pipeline (one round trip, a script call per
   * {@link OBSERVE_BATCH} observations). Each is validated first; one invalid observation
   * rejects the whole batch before anything is written.
   */
  async observeInstances(observations: InstanceObservation[], ctx: ObserveContext): Promise<ObserveResult[]> {
    const valid = observations.map((observation, i) => (plainlyValidInstance(observation) ? observation : parseObservation(instanceObservationSchema, observation, `observations.${i}`)));
    return this.run('i', valid.map(instanceItem), ctx);
  }

  /**
   * Stores what pushes say about instances the cache holds: each patches its record in the
   * observe script (state, raw status, addresses it lists, time) and is ordered by its own
   * `observedAtMs`, exactly as if observed alone; one script call per {@link OBSERVE_BATCH}.
   * A push about an instance without a record (or without a deployment while the push names
   * a stack) comes back `unknown`: the backend has to be asked. One invalid push rejects the
   * whole batch before anything is written.
   */
  async observePushes(pushes: InstancePush[], ctx: Omit<ObserveContext, 'observedAtMs'>): Promise<ObserveResult[]> {
    const items = pushes.map((p, i) => pushItem(plainlyValidPush(p) ? p : parseObservation(instancePushSchema, p, `pushes.${i}`)));
    return this.run('p', items, ctx);
  }

  /** Observes one deployment. */
  async observeDeployment(obs: DeploymentObservation, ctx: ObserveContext): Promise<ObserveResult> {
    const [result] = await this.observeDeployments([obs], ctx);
    return result!;
  }

  async observeDeployments(observations: DeploymentObservation[], ctx: ObserveContext): Promise<ObserveResult[]> {
    const valid = observations.map((observation, i) => parseObservation(deploymentObservationSchema, observation, `observations.${i}`));
    return this.run('d', valid.map(deploymentItem), ctx);
  }

  /**
   * A complete listing of `scope` saw exactly `seenIds`. Instances of the scope missing from
   * two consecutive complete listings are observed as `vanished` (event `instance.deleted`).
   * Returns the ids that vanished now.
   */
  async completeInstanceListing(scope: ListingScope, seenIds: string[], ctx: ObserveContext): Promise<string[]> {
    const index =
      'deploymentId' in scope
        ? this.keys.deploymentInstances(idSchema.parse(scope.deploymentId))
        : this.keys.backendInstances(idSchema.parse(scope.backendId));
    const { gone } = missesOf(await this.redis.hgwMissing(index, this.keys.prefix, 'i', ...seenIds));
    return this.vanishInstances(gone, ctx);
  }

  /**
   * Observes the given instances as `vanished` (event `instance.deleted`), for when the
   * backend says so outright (e.g. their stack is DELETE_COMPLETE). Returns those that changed.
   */
  async vanishInstances(ids: string[], ctx: ObserveContext): Promise<string[]> {
    const docs = await this.getInstances(ids);
    const vanished = docs
      .filter((d): d is Instance => d !== null && d.state !== 'vanished')
      .map((d) => ({ ...stripInstance(d), state: 'vanished' as const, updatedAt: null }));
    if (vanished.length === 0) return [];
    const results = await this.observeInstances(vanished, ctx);
    return vanished.filter((_, i) => results[i]?.outcome === 'changed').map((v) => v.id);
  }

  /**
   * A complete stack listing of `backendId` saw exactly `seenIds`. Deployments missing from
   * two consecutive listings are observed as deleted (`DELETE_COMPLETE`, event
   * `deployment.deleted`): Heat hides deleted stacks from its list. `missedOnce` are those
   * missing for the first time, which a caller may confirm by showing the stack.
   */
  async completeDeploymentListing(
    backendId: string,
    seenIds: string[],
    ctx: ObserveContext,
  ): Promise<{ deleted: string[]; missedOnce: string[] }> {
    const { gone, missedOnce } = missesOf(
      await this.redis.hgwMissing(this.keys.backendDeployments(idSchema.parse(backendId)), this.keys.prefix, 'd', ...seenIds),
    );
    return { deleted: await this.deleteDeployments(gone, 'missing from two consecutive stack listings', ctx), missedOnce };
  }

  /** Observes deployments as deleted (`DELETE_COMPLETE`); returns those that changed. */
  async deleteDeployments(ids: string[], reason: string, ctx: ObserveContext): Promise<string[]> {
    const deleted: DeploymentObservation[] = [];
    for (const id of ids) {
      const doc = await this.getDeployment(id);
      if (!doc || doc.status === 'DELETE_COMPLETE') continue;
      deleted.push({ ...stripDeployment(doc), status: 'DELETE_COMPLETE', statusReason: reason, updatedAt: null });
    }
    if (deleted.length === 0) return [];
    const results = await this.observeDeployments(deleted, ctx);
    return deleted.filter((_, i) => results[i]?.outcome === 'changed').map((d) => d.id);
  }

  /**
   * Moves what earlier store layouts left into `layout`, `batch` per script call: the ids of
   * layout 2's sets per state into the state index, each scored by its record's state
   * (lua/state-index.ts), then every record of layout 3 or before rewritten in this one
   * (lua/record.ts). Then it marks the store as moved, so later starts skip both. A store
   * already at RECORDS_LAYOUT (the last layout to change them) only gets its mark. Idempotent;
   * the store-layout guard runs it at start. Returns how many ids and records it moved.
   */
  async moveToLayout(layout: number, { batch = 1_000 }: { batch?: number } = {}): Promise<{ stateIds: number; records: number }> {
    const stored = Number(await this.redis.get(this.keys.storeLayout));
    if (stored >= layout) return { stateIds: 0, records: 0 };
    let stateIds = 0;
    let records = 0;
    if (stored < RECORDS_LAYOUT) {
      for (;;) {
        const taken = await this.redis.hgwAdoptStateSets(this.keys.instanceStates, this.keys.prefix, batch);
        stateIds += taken;
        if (taken < batch) break;
      }
      records = await walkRecordIndexes(this.keys, (index, kind, cursor) => this.redis.hgwUpgradeRecords(index, this.keys.prefix, kind, batch, cursor));
    }
    await this.redis.set(this.keys.storeLayout, layout);
    return { stateIds, records };
  }

  /** Runs items of one kind through the observe script (observe-calls.ts). */
  private run(kind: 'i' | 'd' | 'p', items: ObserveItem[], ctx: ObserveContext): Promise<ObserveResult[]> {
    return runObserve(this.target, kind, items, ctx);
  }
}

/** Splits the missing script's `id, misses…` reply. */
function missesOf(flat: string[]): { gone: string[]; missedOnce: string[] } {
  const gone: string[] = [];
  const missedOnce: string[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) (Number(flat[i + 1]) >= 2 ? gone : missedOnce).push(flat[i]!);
  return { gone, missedOnce };
}

function parseObservation<T>(schema: z.ZodType<T>, value: unknown, path: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new InputError(
    `invalid observation at ${path}; nothing was written`,
    result.error.issues.map((i) => ({ path: [path, ...i.path.map(String)].join('.'), message: i.message })),
  );
}

function stripInstance(d: Instance): InstanceObservation {
  return {
    id: d.id,
    deploymentId: d.deploymentId,
    name: d.name,
    state: d.state,
    backend: d.backend,
    addresses: d.addresses,
    updatedAt: d.updatedAt,
  };
}

function stripDeployment(d: Deployment): DeploymentObservation {
  return {
    id: d.id,
    name: d.name,
    status: d.status,
    statusReason: d.statusReason,
    outputs: d.outputs,
    backendId: d.backendId,
    updatedAt: d.updatedAt,
  };
}
