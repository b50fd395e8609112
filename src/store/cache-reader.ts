/**
 * Reads of the instance-state cache, as the API serves them: documents are stored in their
 * served JSON form, so a cached read is one Redis round trip and no re-serialization. The
 * {@link StateStore} adds the one write path on top.
 */
import type { Redis } from 'ioredis';
import type { InstanceState } from '../model/states.js';
import type { Deployment, Instance } from '../model/types.js';
import { Keys } from './keys.js';
import { CachedInstancePages } from './cached-pages.js';
import type { TrackedReadCache } from './read-cache.js';
import { withScripts } from './script-registry.js';

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


export const MAX_PAGE = 1_000;

export class CacheReader {
  readonly keys: Keys;
  protected readonly redis: Redis;
  /** Pages of all instances from the tracked cache (cached-pages.ts), when there is one. */
  readonly pages: CachedInstancePages | undefined;

  /**
   * @param instances when given, {@link getInstanceForServe} and pages of all instances
   *   answer from this tracked client-side cache (see read-cache.ts), which must track `redis`.
   */
  constructor(
    redis: Redis,
    prefix: string,
    private readonly instances?: TrackedReadCache,
  ) {
    this.keys = new Keys(prefix);
    this.redis = withScripts(redis, ['hgwGetDeployment', 'hgwServeInstance', 'hgwServeDeployment', 'hgwOldest', 'hgwPage']);
    this.pages = instances ? new CachedInstancePages(instances, this.redis, this.keys, (id) => this.getInstanceForServe(id)) : undefined;
  }

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
  getInstanceForServe(id: string): Promise<ServedDoc | null> {
    if (!this.instances) return this.fetchInstanceForServe(id);
    return this.instances.get(this.keys.instance(id), () => this.fetchInstanceForServe(id));
  }

  private async fetchInstanceForServe(id: string): Promise<ServedDoc | null> {
    const reply = await this.redis.hgwServeInstance(this.keys.instance(id), this.keys.prefix);
    if (!reply) return null;
    const [json, w, deleted, backendId, group, deploymentFailure, backendFailure] = reply as string[];
    return {
      id, json: json!, ...recordMeta(w!, json!),
      tombstone: deleted === '1', backendId: backendId!, deploymentId: group!,
      failures: failuresOf([`d:${group}`, deploymentFailure], [`b:${backendId}`, backendFailure]),
    };
  }

  /** One deployment to serve (with instanceIds), in one script call, or null. */
  async getDeploymentForServe(id: string): Promise<ServedDoc | null> {
    const reply = await this.redis.hgwServeDeployment(this.keys.deployment(id), this.keys.prefix, id);
    if (!reply) return null;
    const [json, w, deleted, backendId, deploymentFailure, backendFailure] = reply as string[];
    return {
      id, json: json!, ...recordMeta(w!, json!),
      tombstone: deleted === '1', backendId: backendId!, deploymentId: id,
      failures: failuresOf([`d:${id}`, deploymentFailure], [`b:${backendId}`, backendFailure]),
    };
  }

  /** Like {@link listInstancesJson}, with version and observedAt per item. */
  listInstancesForServe(query: InstanceQuery): Promise<ServedPage> {
    const tombstones = query.includeDeleted === true || query.state !== undefined;
    const fromRedis = () => this.servePage(this.instanceIndex(query), 'i', query, query.state ?? '', tombstones);
    if (!this.pages || query.deploymentId !== undefined || query.state !== undefined) return fromRedis();
    const request = { limit: pageLimit(query.limit), tombstones, ...(query.cursor === undefined ? {} : { cursor: query.cursor }) };
    return this.pages.serve(request, fromRedis);
  }

  /** Like {@link listDeploymentsJson}, with version and observedAt per item; tombstones only on request. */
  listDeploymentsForServe(query: DeploymentQuery): Promise<ServedPage> {
    return this.servePage({ key: this.keys.allDeployments }, 'd', query, query.status ?? '', query.includeDeleted === true || query.status !== undefined);
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

  private instanceIndex(query: InstanceQuery): PageIndex {
    if (query.deploymentId !== undefined) return { key: this.keys.deploymentInstances(query.deploymentId) };
    return query.state !== undefined ? { key: this.keys.instanceStates, banded: true } : { key: this.keys.allInstances };
  }

  /** A page of deployments in id order, each with its instanceIds. */
  listDeploymentsJson(request: PageRequest): Promise<JsonPage> {
    return this.page({ key: this.keys.allDeployments }, 'd', request, '');
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

  private async page(index: PageIndex, kind: 'i' | 'd', request: PageRequest, state: string): Promise<JsonPage> {
    const limit = pageLimit(request.limit);
    const [next, ...items] = await this.redis.hgwPage(index.key, this.keys.prefix, kind, request.cursor ?? '', limit, state, '', '', index.banded ? '1' : '');
    return { items, next: next ? next : null };
  }

  private async servePage(index: PageIndex, kind: 'i' | 'd', request: PageRequest, state: string, tombstones: boolean): Promise<ServedPage> {
    const limit = pageLimit(request.limit);
    const reply = await this.redis.hgwPage(index.key, this.keys.prefix, kind, request.cursor ?? '', limit, state, '1', tombstones ? '1' : '0', index.banded ? '1' : '');
    const items: ServedDoc[] = [];
    const failures = new Map<string, string>();
    const failureCount = Number(reply[1]);
    for (let f = 0; f < failureCount; f++) failures.set(reply[2 + 2 * f]!, reply[3 + 2 * f]!);
    for (let i = 2 + 2 * failureCount; i + 5 < reply.length; i += 6) {
      const id = reply[i]!;
      const json = reply[i + 5]!;
      items.push({
        id,
        ...recordMeta(reply[i + 1]!, json),
        tombstone: reply[i + 2] === '1',
        backendId: reply[i + 3]!,
        deploymentId: kind === 'd' ? id : reply[i + 4]!,
        json,
      });
    }
    return { items, next: reply[0] ? reply[0] : null, failures };
  }
}

/** The index a listing pages through; `banded` for the state index (PAGE_LUA). */
interface PageIndex {
  key: string;
  banded?: boolean;
}

/** A page size within 1..{@link MAX_PAGE}. */
const pageLimit = (limit: number) => Math.min(Math.max(1, Math.trunc(limit)), MAX_PAGE);

/**
 * Version and observedAt of a record, from its `w` (`…|<observedAt ms>|<version>`,
 * lua/record.ts) and its document, whose observedAt member is the last one at the top level
 * but a deployment's instanceIds (ids are JSON strings: none holds a raw `,"observedAt":"`).
 */
function recordMeta(w: string, json: string): Pick<ServedDoc, 'version' | 'observedAtMs' | 'observedAt'> {
  const v = w.lastIndexOf('|');
  const at = json.lastIndexOf(',"observedAt":"') + 15;
  return {
    version: Number(w.slice(v + 1)),
    observedAtMs: Number(w.slice(w.lastIndexOf('|', v - 1) + 1, v)),
    observedAt: json.slice(at, json.indexOf('"', at)),
  };
}

/** The non-empty failures among `[scope, json]` pairs. */
function failuresOf(...pairs: [string, string | undefined][]): Map<string, string> {
  return new Map(pairs.filter((p): p is [string, string] => Boolean(p[1])));
}

