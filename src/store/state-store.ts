/**
 * The instance-state cache: the one write path every strategy observes through (reads are
 * inherited from {@link CacheReader}).
 */
import { randomUUID } from 'node:crypto';
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
import { RefreshHealth } from './refresh-health.js';
import { Tombstones } from './tombstones.js';

export * from './cache-reader.js';

/** Who observed, and when. */
export interface ObserveContext {
  /** Strategy name (served as `source`). */
  source: string;
  /**
   * Gateway time the observation was made, ms since epoch. Use the time the backend request
   * started: it is the latest moment the answer can be older than.
   * @defaultValue now
   */
  observedAtMs?: number;
  /**
   * Backends whose observations are being made now (those a running strategy reads). When
   * given, an instance owned by one of them ignores other backends' observations (outcome
   * `not_owner`); otherwise the latest observation wins whoever made it.
   */
  liveOwners?: readonly string[];
}

export type ObserveOutcome = 'stale' | 'refreshed' | 'changed' | 'ignored' | 'not_owner';

export interface ObserveResult {
  outcome: ObserveOutcome;
  /** The record's version after the call (0 when ignored). */
  version: number;
  /** Feed cursor of the appended event, when one was appended. */
  cursor?: string;
  /** `not_owner`: the backend that owns the instance. */
  owner?: string;
  /** Type of the appended event, when one was appended (e.g. `instance.state_changed`). */
  event?: string;
}

/**
 * Observations per script call: large enough that the call overhead is spread thin, small
 * enough that one call does not hold Redis for long (~1 ms).
 */
export const OBSERVE_BATCH = 100;
/** Observations per window of script calls in flight; a larger call is sent as several, two windows at a time. */
export const OBSERVE_PIPELINE = 2_000;

/** One observation as the observe script takes it. */
interface ObserveItem {
  /** id, group, backend, status, content, updatedAt JSON literal. */
  args: string[];
  /** The backend's time of the change: ms ('' = none) and ISO ('' = none: the observation's). */
  updatedMs: number | '';
  updatedIso: string;
  eventId: string;
  backendKind: string;
}

const OUTCOMES: readonly ObserveOutcome[] = ['stale', 'refreshed', 'changed', 'ignored', 'not_owner'];

export type ListingScope = { deploymentId: string } | { backendId: string };

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
    this.tombstones = new Tombstones(this.redis, this.keys);
    this.refreshHealth = new RefreshHealth(this.redis, this.keys, now);
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
    const valid = observations.map((o, i) => parseObservation(instanceObservationSchema, o, `observations.${i}`));
    return this.run('i', valid.map((o) => this.instanceItem(o)), ctx);
  }

  /** Observes one deployment. */
  async observeDeployment(obs: DeploymentObservation, ctx: ObserveContext): Promise<ObserveResult> {
    const [result] = await this.observeDeployments([obs], ctx);
    return result!;
  }

  async observeDeployments(observations: DeploymentObservation[], ctx: ObserveContext): Promise<ObserveResult[]> {
    const valid = observations.map((o, i) => parseObservation(deploymentObservationSchema, o, `observations.${i}`));
    return this.run('d', valid.map((o) => this.deploymentItem(o)), ctx);
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

  /** An instance observation as the observe script's record key and arguments. */
  private instanceItem(o: InstanceObservation): ObserveItem {
    const content =
      `"id":${JSON.stringify(o.id)},"deploymentId":${JSON.stringify(o.deploymentId)},` +
      `"name":${JSON.stringify(o.name)},"state":"${o.state}",` +
      `"backend":${JSON.stringify({ id: o.backend.id, kind: o.backend.kind, status: o.backend.status })},` +
      `"addresses":${JSON.stringify({ public: [...o.addresses.public].sort(), private: [...o.addresses.private].sort() })}`;
    return this.item(o.id, o.deploymentId, o.backend.id, o.state, content, o.updatedAt, o.backend.kind);
  }

  private deploymentItem(o: DeploymentObservation): ObserveItem {
    const status = o.status ?? '';
    const content =
      `"id":${JSON.stringify(o.id)},"name":${JSON.stringify(o.name)},"status":${JSON.stringify(o.status)},` +
      `"statusReason":${JSON.stringify(o.statusReason)},` +
      `"outputs":${JSON.stringify(o.outputs.map((x) => ({ key: x.key, value: x.value ?? null, description: x.description ?? null })))},` +
      `"backendId":${JSON.stringify(o.backendId)}`;
    return this.item(o.id, o.id, o.backendId, status, content, o.updatedAt, '');
  }

  private item(
    id: string,
    group: string,
    backendId: string,
    status: string,
    content: string,
    updatedAt: string | null,
    backendKind: string,
  ): ObserveItem {
    const updatedMs = updatedAt === null ? NaN : Date.parse(updatedAt);
    const updatedIso = Number.isFinite(updatedMs) ? new Date(updatedMs).toISOString() : null;
    return {
      args: [id, group, backendId, status, content, updatedIso === null ? 'null' : `"${updatedIso}"`],
      updatedMs: updatedIso === null ? '' : updatedMs,
      updatedIso: updatedIso ?? '',
      eventId: newEventId(),
      backendKind,
    };
  }

  /**
   * Runs the items, all instances (`i`) or all deployments (`d`), through the observe script,
   * {@link OBSERVE_BATCH} per call, in one pipeline.
   */
  private async run(kind: 'i' | 'd', items: ObserveItem[], ctx: ObserveContext): Promise<ObserveResult[]> {
    if (items.length === 0) return [];
    const now = this.now();
    const observedAtMs = ctx.observedAtMs ?? now;
    const observedAt = new Date(observedAtMs).toISOString();
    const shared = [
      this.keys.prefix,
      this.feed.maxLength,
      `${Math.max(0, now - this.feed.maxAgeMs)}-0`,
      JSON.stringify(ctx.source),
      observedAt,
      observedAtMs,
      ctx.liveOwners ? `,${ctx.liveOwners.join(',')},` : '',
      kind,
    ];
    const results: ObserveResult[] = [];
    // Each script call is written as soon as its arguments are built, so Redis runs one batch
    // while the next is being built (a pipeline would hold them all until exec). At most two
    // windows of OBSERVE_PIPELINE observations are in flight: a 100,000-instance listing holds
    // the arguments and replies of 4,000, not of all of them, in memory at once.
    let previous: Promise<(number | string | null)[][]> | undefined;
    for (let from = 0; from < items.length; from += OBSERVE_PIPELINE) {
      const calls: Promise<(number | string | null)[]>[] = [];
      const end = Math.min(items.length, from + OBSERVE_PIPELINE);
      for (let at = from; at < end; at += OBSERVE_BATCH) {
        const batchEnd = Math.min(end, at + OBSERVE_BATCH);
        const args: (string | number)[] = [1, this.keys.feed, ...shared];
        for (let i = at; i < batchEnd; i++) {
          const item = items[i]!;
          for (const arg of item.args) args.push(arg);
          // occurredAt: the backend's time of the change, else the observation's.
          args.push(`${item.updatedMs}|${item.eventId}|${item.updatedIso || observedAt}|${item.backendKind}`);
        }
        calls.push(this.redis.hgwObserve(...args));
      }
      const window = Promise.all(calls);
      window.catch(() => {}); // awaited below, after the next window is sent
      if (previous) this.collect(await previous, results);
      previous = window;
    }
    if (previous) this.collect(await previous, results);
    return results;
  }

  /** Appends the results of script replies (outcome, version, cursor, event per observation) in order. */
  private collect(replies: (number | string | null)[][], results: ObserveResult[]): void {
    for (const flat of replies) {
      for (let i = 0; i < flat.length; i += 4) {
        const code = flat[i] as number;
        const cursor = flat[i + 2] as string;
        const event = flat[i + 3] as string | null;
        const result: ObserveResult = { outcome: OUTCOMES[code]!, version: (flat[i + 1] as number | null) ?? 0 };
        if (cursor && code === 4) result.owner = cursor;
        else if (cursor) result.cursor = cursor;
        if (event) {
          result.event = event;
          this.onAppend(event);
        }
        results.push(result);
      }
    }
  }
}

/** `evt_` plus 32 hex characters: stable once appended, unique across replicas. */
export function newEventId(): string {
  return `evt_${randomUUID().replaceAll('-', '')}`;
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
