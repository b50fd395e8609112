/**
 * A Deltacloud backend as a source: one `GET /api/instances` is a full listing of the
 * backend's instances. Deltacloud knows nothing of Heat stacks, so each instance is
 * attributed to a deployment from what the cache already knows (learned from Heat earlier),
 * else from the strategy's `namePattern`, else it goes under `unassigned`.
 */
import type { DeltacloudClient, DeltacloudInstanceObservation } from '../backends/deltacloud-client.js';
import { UNASSIGNED_DEPLOYMENT, type Deployment, type DeploymentObservation, type Instance, type InstanceObservation } from '../model/types.js';
import type { CacheReader } from '../store/cache-reader.js';
import type { InstanceSource, Listing, ReadOptions } from './instance-source.js';

/** Instances per chunk of a streamed listing: one store pipeline, and what memory holds. */
export const LISTING_CHUNK = 1_000;

/** What one listing learns once for all its chunks: deployment names, read when first needed. */
class Attribution {
  byName: Map<string, string> | undefined;
}

export class DeltacloudSource implements InstanceSource {
  readonly kind = 'deltacloud' as const;

  constructor(
    readonly client: DeltacloudClient,
    private readonly cache: CacheReader,
  ) {}

  get backendId(): string {
    return this.client.id;
  }

  /** Deltacloud lists everything at once: any scope is the backend's full listing. */
  async list(_scope: unknown, options: ReadOptions = {}): Promise<Listing[]> {
    const instances = await this.attribute(await this.client.listInstances(), options, new Attribution());
    return [{ backendId: this.backendId, deployments: this.unassigned(instances), instances, complete: { instancesOf: { backendId: this.backendId } } }];
  }

  /**
   * The same full listing, handed to `apply` in chunks of {@link LISTING_CHUNK} instances as
   * the list streams in, so memory holds one chunk whatever the account's size. Each chunk is
   * a delta (it proves nothing about what it does not name); the last listing, applied only
   * once the whole list was read and validated, carries `complete` with the ids the chunks
   * saw. A list that fails part-way leaves the chunks before the failure applied and applies
   * no `complete`, so nothing is counted as missing from it.
   */
  async streamList(_scope: unknown, options: ReadOptions, apply: (listing: Listing) => Promise<void>): Promise<void> {
    const attribution = new Attribution();
    const seenIds: string[] = [];
    let unassignedSent = false;
    await this.client.streamInstances(async (batch) => {
      const instances = await this.attribute(batch, options, attribution);
      // A copy of each id: the parser's ids are slices of the chunk of XML they were read
      // from, and keeping a slice keeps its whole 64 KB chunk, so 100,000 kept ids held the
      // entire listing (the peak RSS grew with the account instead of staying one chunk).
      for (const i of instances) seenIds.push(Buffer.from(i.id).toString());
      const deployments = unassignedSent ? [] : this.unassigned(instances);
      unassignedSent ||= deployments.length > 0;
      await apply({ backendId: this.backendId, deployments, instances });
    }, LISTING_CHUNK);
    await apply({ backendId: this.backendId, complete: { instancesOf: { backendId: this.backendId } }, seenIds });
  }

  async show(instanceId: string, _known: unknown, options: ReadOptions = {}): Promise<Listing[] | null> {
    const found = await this.client.getInstance(instanceId);
    if (!found) return null;
    const instances = await this.attribute([found], options, new Attribution());
    return [{ backendId: this.backendId, instances }];
  }

  /** The `unassigned` deployment, when some instance could not be attributed. */
  private unassigned(instances: InstanceObservation[]): DeploymentObservation[] {
    if (!instances.some((i) => i.deploymentId === UNASSIGNED_DEPLOYMENT)) return [];
    return [{ id: UNASSIGNED_DEPLOYMENT, name: 'Instances not attributed to a Heat stack', status: null, statusReason: null, outputs: [], backendId: this.backendId, updatedAt: null }];
  }

  private async attribute(listed: DeltacloudInstanceObservation[], options: ReadOptions, attribution: Attribution): Promise<InstanceObservation[]> {
    // What the cache knows, 1,000 at a time: a 100,000-instance account never holds every
    // stored document at once.
    const known: (Instance | null)[] = [];
    for (let at = 0; at < listed.length; at += 1_000) known.push(...(await this.cache.getInstances(listed.slice(at, at + 1_000).map((i) => i.id))));
    const regex = options.namePattern ? new RegExp(options.namePattern) : undefined;
    const out: InstanceObservation[] = [];
    for (const [i, inst] of listed.entries()) {
      let deploymentId = known[i]?.deploymentId;
      if (!deploymentId || deploymentId === UNASSIGNED_DEPLOYMENT) {
        deploymentId = UNASSIGNED_DEPLOYMENT;
        const captured = regex?.exec(inst.raw.name ?? inst.name)?.groups?.deployment;
        if (captured) {
          attribution.byName ??= await this.deploymentNames();
          deploymentId = attribution.byName.get(captured) ?? UNASSIGNED_DEPLOYMENT;
        }
      }
      const { raw: _raw, ...rest } = inst;
      out.push({ ...rest, deploymentId });
    }
    return out;
  }

  /** Deployment name or id → id, from the cache. */
  private async deploymentNames(): Promise<Map<string, string>> {
    const map = new Map<string, string>();
    let cursor: string | undefined;
    do {
      const page = await this.cache.listDeploymentsJson({ limit: 1_000, ...(cursor ? { cursor } : {}) });
      for (const json of page.items) {
        const d = JSON.parse(json) as Deployment;
        map.set(d.id, d.id);
        if (!map.has(d.name)) map.set(d.name, d.id);
      }
      cursor = page.next ?? undefined;
    } while (cursor);
    return map;
  }
}
