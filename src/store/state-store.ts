/**
 * The instance-state cache: the one write path every strategy observes through, and the
 * reads the API serves. Documents are stored in their served JSON form, so a cached read is
 * one Redis round trip and no re-serialization.
 */
import { randomUUID } from 'node:crypto';
import type { ChainableCommander, Redis, Result } from 'ioredis';
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
import type { InstanceState } from '../model/states.js';
import { Keys } from './keys.js';
import { RefreshHealth } from './refresh-health.js';
import { Tombstones } from './tombstones.js';
import { GET_DEPLOYMENT_LUA, MISSING_LUA, OBSERVE_LUA, OLDEST_LUA, PAGE_LUA, SERVE_DEPLOYMENT_LUA, SERVE_INSTANCE_LUA } from './scripts.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    hgwObserve(...args: (string | number)[]): Result<[number, number | null, string, string?], Context>;
    hgwMissing(...args: (string | number)[]): Result<string[], Context>;
    hgwPage(...args: (string | number)[]): Result<string[], Context>;
    hgwGetDeployment(...args: (string | number)[]): Result<string | null, Context>;
    hgwOldest(...args: (string | number)[]): Result<number | null, Context>;
    hgwServeDeployment(...args: (string | number)[]): Result<string[] | null, Context>;
    hgwServeInstance(...args: (string | number)[]): Result<string[] | null, Context>;
  }
}

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
}

export type ObserveOutcome = 'stale' | 'refreshed' | 'changed' | 'ignored';

export interface ObserveResult {
  outcome: ObserveOutcome;
  /** The record's version after the call (0 when ignored). */
  version: number;
  /** Feed cursor of the appended event, when one was appended. */
  cursor?: string;
  /** Type of the appended event, when one was appended (e.g. `instance.state_changed`). */
  event?: string;
}

const OUTCOMES: readonly ObserveOutcome[] = ['stale', 'refreshed', 'changed', 'ignored'];

export interface FeedLimits {
  /** @defaultValue 1,000,000 */
  maxLength: number;
  /** @defaultValue 7 days */
  maxAgeMs: number;
}

export interface PageRequest {
  /** Exclusive: the last id of the previous page. */
  cursor?: string;
  /** 1..1000. */
  limit: number;
}

export interface InstanceQuery extends PageRequest {
  deploymentId?: string;
  state?: InstanceState;
  /** Serve vanished instances (tombstones) too; a `state` filter always includes them. @defaultValue false */
  includeDeleted?: boolean;
}

export interface DeploymentQuery extends PageRequest {
  /** Only deployments with this raw Heat stack status (DELETE_COMPLETE lists tombstones). */
  status?: string;
  /** Serve deleted deployments (tombstones) too. @defaultValue false */
  includeDeleted?: boolean;
}

/** A page of served documents (JSON strings) and the cursor of the next page. */
export interface JsonPage {
  items: string[];
  next: string | null;
}

/**
 * One stored document as the API serves it: the served JSON string untouched, plus the
 * bookkeeping `meta` and the ETag need, so nothing is parsed or re-serialized.
 */
export interface ServedDoc {
  id: string;
  /** The served JSON (deployments include `instanceIds`). */
  json: string;
  version: number;
  /** observedAt, ms since epoch. */
  observedAtMs: number;
  /** observedAt, ISO-8601 exactly as in the document. */
  observedAt: string;
  /** A deleted deployment or vanished instance, kept for feed.tombstoneTtlMs. */
  tombstone: boolean;
  /** The backend it was observed from. */
  backendId: string;
  /** Its deployment (an instance's deploymentId; a deployment's own id). */
  deploymentId: string;
  /**
   * Last refresh failures (JSON, see RefreshHealth) of the scopes this document belongs to,
   * by scope (`d:<deployment>`, `b:<backend>`), read in the same round trip. Pages carry them
   * on the page instead.
   */
  failures?: Map<string, string>;
}

/** A page of {@link ServedDoc}s and the cursor of the next page. */
export interface ServedPage {
  items: ServedDoc[];
  next: string | null;
  /** Every recorded refresh failure (JSON) by scope, read in the same round trip. */
  failures: Map<string, string>;
}

export type ListingScope = { deploymentId: string } | { backendId: string };

export const MAX_PAGE = 1_000;

/** Backend ids become part of keys; they must not smuggle a second hash tag or separators. */
const idSchema = z.string().min(1).max(255).regex(/^[^\s{}]+$/, 'must not contain spaces or braces');

export class StateStore {
  readonly keys: Keys;
  readonly tombstones: Tombstones;
  readonly refreshHealth: RefreshHealth;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly feed: FeedLimits,
    private readonly now: () => number = Date.now,
    /** Told of every feed event this store's writes append (the feed-appends metric). */
    private readonly onAppend: (type: string) => void = () => {},
  ) {
    this.keys = new Keys(prefix);
    this.tombstones = new Tombstones(redis, this.keys);
    this.refreshHealth = new RefreshHealth(redis, this.keys, now);
    for (const [name, lua, numberOfKeys] of [
      ['hgwObserve', OBSERVE_LUA, 2],
      ['hgwMissing', MISSING_LUA, 1],
      ['hgwPage', PAGE_LUA, 1],
      ['hgwGetDeployment', GET_DEPLOYMENT_LUA, 1],
      ['hgwOldest', OLDEST_LUA, 1],
      ['hgwServeDeployment', SERVE_DEPLOYMENT_LUA, 1],
      ['hgwServeInstance', SERVE_INSTANCE_LUA, 1],
    ] as const) {
      if (!(name in redis)) redis.defineCommand(name, { lua, numberOfKeys });
    }
  }

  // ---------------------------------------------------------------- writes

  /** Observes one instance through the atomic write path. */
  async observeInstance(obs: InstanceObservation, ctx: ObserveContext): Promise<ObserveResult> {
    const [result] = await this.observeInstances([obs], ctx);
    return result!;
  }

  /**
   * Observes many instances in one pipeline (one round trip). Each is validated first; one
   * invalid observation rejects the whole batch before anything is written.
   */
  async observeInstances(observations: InstanceObservation[], ctx: ObserveContext): Promise<ObserveResult[]> {
    const valid = observations.map((o, i) => parseObservation(instanceObservationSchema, o, `observations.${i}`));
    const pipeline = this.redis.pipeline();
    for (const o of valid) this.queueInstance(pipeline, o, ctx);
    return this.run(pipeline);
  }

  /** Observes one deployment. */
  async observeDeployment(obs: DeploymentObservation, ctx: ObserveContext): Promise<ObserveResult> {
    const [result] = await this.observeDeployments([obs], ctx);
    return result!;
  }

  async observeDeployments(observations: DeploymentObservation[], ctx: ObserveContext): Promise<ObserveResult[]> {
    const valid = observations.map((o, i) => parseObservation(deploymentObservationSchema, o, `observations.${i}`));
    const pipeline = this.redis.pipeline();
    for (const o of valid) this.queueDeployment(pipeline, o, ctx);
    return this.run(pipeline);
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

  /** Queues one instance observation on a pipeline (for callers batching their own writes). */
  queueInstance(pipeline: ChainableCommander, o: InstanceObservation, ctx: ObserveContext): void {
    const content =
      `"id":${JSON.stringify(o.id)},"deploymentId":${JSON.stringify(o.deploymentId)},` +
      `"name":${JSON.stringify(o.name)},"state":"${o.state}",` +
      `"backend":${JSON.stringify({ id: o.backend.id, kind: o.backend.kind, status: o.backend.status })},` +
      `"addresses":${JSON.stringify({ public: [...o.addresses.public].sort(), private: [...o.addresses.private].sort() })}`;
    this.queueObserve(pipeline, 'i', o.id, o.deploymentId, o.backend.id, o.state, content, o.updatedAt, o.state === 'vanished', ctx);
  }

  queueDeployment(pipeline: ChainableCommander, o: DeploymentObservation, ctx: ObserveContext): void {
    const status = o.status ?? '';
    const content =
      `"id":${JSON.stringify(o.id)},"name":${JSON.stringify(o.name)},"status":${JSON.stringify(o.status)},` +
      `"statusReason":${JSON.stringify(o.statusReason)},` +
      `"outputs":${JSON.stringify(o.outputs.map((x) => ({ key: x.key, value: x.value ?? null, description: x.description ?? null })))},` +
      `"backendId":${JSON.stringify(o.backendId)}`;
    this.queueObserve(pipeline, 'd', o.id, o.id, o.backendId, status, content, o.updatedAt, status === 'DELETE_COMPLETE', ctx);
  }

  private queueObserve(
    pipeline: ChainableCommander,
    kind: 'i' | 'd',
    id: string,
    group: string,
    backendId: string,
    status: string,
    content: string,
    updatedAt: string | null,
    deleted: boolean,
    ctx: ObserveContext,
  ): void {
    const now = this.now();
    const observedAtMs = ctx.observedAtMs ?? now;
    const observedAt = new Date(observedAtMs).toISOString();
    const updatedMs = updatedAt === null ? NaN : Date.parse(updatedAt);
    const updatedIso = Number.isFinite(updatedMs) ? new Date(updatedMs).toISOString() : null;
    pipeline.hgwObserve(
      kind === 'i' ? this.keys.instance(id) : this.keys.deployment(id),
      this.keys.feed,
      this.keys.prefix,
      kind,
      id,
      group,
      backendId,
      status,
      content,
      updatedIso === null ? 'null' : `"${updatedIso}"`,
      updatedIso === null ? '' : updatedMs,
      JSON.stringify(ctx.source),
      observedAt,
      observedAtMs,
      newEventId(),
      this.feed.maxLength,
      `${Math.max(0, now - this.feed.maxAgeMs)}-0`,
      updatedIso ?? observedAt,
      deleted ? '1' : '0',
    );
  }

  private async run(pipeline: ChainableCommander): Promise<ObserveResult[]> {
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, reply]) => {
      if (err) throw err;
      const [code, version, cursor, event] = reply as [number, number | null, string, string?];
      const result: ObserveResult = { outcome: OUTCOMES[code]!, version: version ?? 0 };
      if (cursor) result.cursor = cursor;
      if (event) {
        result.event = event;
        this.onAppend(event);
      }
      return result;
    });
  }

  // ---------------------------------------------------------------- reads

  /** The served JSON of one instance, or null. One HGET. */
  getInstanceJson(id: string): Promise<string | null> {
    return this.redis.hget(this.keys.instance(id), 'j');
  }

  async getInstance(id: string): Promise<Instance | null> {
    const json = await this.getInstanceJson(id);
    return json === null ? null : (JSON.parse(json) as Instance);
  }

  async getInstances(ids: string[]): Promise<(Instance | null)[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hget(this.keys.instance(id), 'j');
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, json]) => {
      if (err) throw err;
      return json ? (JSON.parse(json as string) as Instance) : null;
    });
  }

  getDeploymentJson(id: string): Promise<string | null> {
    return this.redis.hgwGetDeployment(this.keys.deployment(id), this.keys.prefix, id);
  }

  async getDeployment(id: string): Promise<Deployment | null> {
    const json = await this.getDeploymentJson(id);
    return json === null ? null : (JSON.parse(json) as Deployment);
  }

  /**
   * One instance to serve: stored JSON, version, observedAt and the refresh failures of its
   * scopes, in one script call (one round trip), or null when unknown.
   */
  async getInstanceForServe(id: string): Promise<ServedDoc | null> {
    const reply = await this.redis.hgwServeInstance(this.keys.instance(id), this.keys.prefix);
    if (!reply) return null;
    const [json, version, observedAtMs, observedAt, deleted, backendId, group, deploymentFailure, backendFailure] = reply as string[];
    return {
      id, json: json!, version: Number(version), observedAtMs: Number(observedAtMs), observedAt: observedAt ?? '',
      tombstone: deleted === '1', backendId: backendId!, deploymentId: group!,
      failures: failuresOf([`d:${group}`, deploymentFailure], [`b:${backendId}`, backendFailure]),
    };
  }

  /** One deployment to serve (with instanceIds), in one script call, or null. */
  async getDeploymentForServe(id: string): Promise<ServedDoc | null> {
    const reply = await this.redis.hgwServeDeployment(this.keys.deployment(id), this.keys.prefix, id);
    if (!reply) return null;
    const [json, version, observedAtMs, observedAt, deleted, backendId, deploymentFailure, backendFailure] = reply as string[];
    return {
      id, json: json!, version: Number(version), observedAtMs: Number(observedAtMs), observedAt: observedAt!,
      tombstone: deleted === '1', backendId: backendId!, deploymentId: id,
      failures: failuresOf([`d:${id}`, deploymentFailure], [`b:${backendId}`, backendFailure]),
    };
  }

  /** Like {@link listInstancesJson}, with version and observedAt per item. */
  listInstancesForServe(query: InstanceQuery): Promise<ServedPage> {
    return this.servePage(this.instanceIndex(query), 'i', query, query.state ?? '', query.includeDeleted === true || query.state !== undefined);
  }

  /** Like {@link listDeploymentsJson}, with version and observedAt per item; tombstones only on request. */
  listDeploymentsForServe(query: DeploymentQuery): Promise<ServedPage> {
    return this.servePage(this.keys.allDeployments, 'd', query, query.status ?? '', query.includeDeleted === true || query.status !== undefined);
  }

  /** True when the cache knows the deployment or any instance of it. */
  async deploymentKnown(id: string): Promise<boolean> {
    const [record, instances] = await Promise.all([
      this.redis.exists(this.keys.deployment(id)),
      this.redis.zcard(this.keys.deploymentInstances(id)),
    ]);
    return record > 0 || instances > 0;
  }

  /** A page of instances in id order, optionally of one deployment and/or in one state. */
  async listInstancesJson(query: InstanceQuery): Promise<JsonPage> {
    return this.page(this.instanceIndex(query), 'i', query, query.state ?? '');
  }

  private instanceIndex(query: InstanceQuery): string {
    return query.deploymentId !== undefined
      ? this.keys.deploymentInstances(query.deploymentId)
      : query.state !== undefined
        ? this.keys.state(query.state)
        : this.keys.allInstances;
  }

  /** A page of deployments in id order, each with its instanceIds. */
  listDeploymentsJson(request: PageRequest): Promise<JsonPage> {
    return this.page(this.keys.allDeployments, 'd', request, '');
  }

  /** Ids of the deployments known from one backend. */
  deploymentIdsOf(backendId: string): Promise<string[]> {
    return this.redis.zrange(this.keys.backendDeployments(backendId), 0, '-1');
  }

  /** Ids of the instances of one deployment. */
  instanceIdsOf(deploymentId: string): Promise<string[]> {
    return this.redis.zrange(this.keys.deploymentInstances(deploymentId), 0, '-1');
  }

  /** How many instances and deployments the cache holds. */
  async counts(): Promise<{ instances: number; deployments: number }> {
    const [instances, deployments] = await Promise.all([
      this.redis.zcard(this.keys.allInstances),
      this.redis.zcard(this.keys.allDeployments),
    ]);
    return { instances, deployments };
  }

  /** The oldest observation time over all instances (ms), or null when the cache is empty. O(n). */
  async oldestObservedAtMs(): Promise<number | null> {
    const oldest = await this.redis.hgwOldest(this.keys.allInstances, this.keys.prefix);
    return typeof oldest === 'number' ? oldest : null;
  }

  private async page(index: string, kind: 'i' | 'd', request: PageRequest, state: string): Promise<JsonPage> {
    const limit = Math.min(Math.max(1, Math.trunc(request.limit)), MAX_PAGE);
    const [next, ...items] = await this.redis.hgwPage(index, this.keys.prefix, kind, request.cursor ?? '', limit, state);
    return { items, next: next ? next : null };
  }

  private async servePage(index: string, kind: 'i' | 'd', request: PageRequest, state: string, tombstones: boolean): Promise<ServedPage> {
    const limit = Math.min(Math.max(1, Math.trunc(request.limit)), MAX_PAGE);
    const reply = await this.redis.hgwPage(index, this.keys.prefix, kind, request.cursor ?? '', limit, state, '1', tombstones ? '1' : '0');
    const items: ServedDoc[] = [];
    const failures = new Map<string, string>();
    const failureCount = Number(reply[1]);
    for (let f = 0; f < failureCount; f++) failures.set(reply[2 + 2 * f]!, reply[3 + 2 * f]!);
    for (let i = 2 + 2 * failureCount; i + 7 < reply.length; i += 8) {
      const id = reply[i]!;
      items.push({
        id,
        version: Number(reply[i + 1]),
        observedAtMs: Number(reply[i + 2]),
        observedAt: reply[i + 3]!,
        tombstone: reply[i + 4] === '1',
        backendId: reply[i + 5]!,
        deploymentId: kind === 'd' ? id : reply[i + 6]!,
        json: reply[i + 7]!,
      });
    }
    return { items, next: reply[0] ? reply[0] : null, failures };
  }
}

/** The non-empty failures among `[scope, json]` pairs. */
function failuresOf(...pairs: [string, string | undefined][]): Map<string, string> {
  return new Map(pairs.filter((p): p is [string, string] => Boolean(p[1])));
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
