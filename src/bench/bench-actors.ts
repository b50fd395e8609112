/**
 * The actors of a benchmark run besides the gateway: a Conductor emulator reading at a fixed
 * rate, Aeolus's dbomatic (the baseline), and a follower timestamping every feed event.
 */
import { DeltacloudClient } from '../backends/deltacloud-client.js';
import { deltacloudBackendSchema } from '../config/schema.js';
import { silentLogger } from '../log/logger.js';
import type { InstanceState } from '../model/states.js';
import type { Instance } from '../model/types.js';
import type { Simulator } from '../sim/simulator.js';
import type { ChangeFeed, FeedFollower } from '../store/change-feed.js';
import type { StateStore } from '../store/state-store.js';
import type { Sighting } from './truth-analysis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Follows the feed and timestamps every instance state the cache shows. */
export class FeedSightings {
  readonly sightings: Sighting[] = [];
  private running = true;
  private loop: Promise<void> | undefined;
  private follower: FeedFollower | undefined;

  constructor(private readonly feed: ChangeFeed) {}

  async start(): Promise<void> {
    let after = (await this.feed.info()).lastGeneratedCursor;
    const follower = (this.follower = this.feed.follow());
    this.loop = (async () => {
      while (this.running) {
        const page = await follower.read(after, 1_000, 200).catch((err: Error) => {
          if (this.running) throw err;
          return { entries: [], next: after, gap: false };
        });
        const now = Date.now();
        for (const entry of page.entries) {
          if (!entry.type.startsWith('instance.')) continue;
          const event = JSON.parse(entry.json) as { data: { current?: Instance } };
          if (event.data.current) this.sightings.push({ instanceId: event.data.current.id, state: event.data.current.state, atMs: now });
        }
        after = page.next;
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.follower?.close();
  }
}

export interface ReadRecord {
  atMs: number;
  latencyMs: number;
  /** 2xx, or 404 for a deployment the cache has not learned yet (stale, not an error). */
  ok: boolean;
  deploymentId: string;
  /** The gateway did not know the deployment yet. */
  unknown: boolean;
  instances: { id: string; state: InstanceState }[];
}

/** Reads deployments the way Conductor's UI does, at a fixed rate. */
export async function conductorReads(sim: Simulator, url: string, token: string, rate: number, untilMs: number): Promise<ReadRecord[]> {
  const records: ReadRecord[] = [];
  const inflight = new Set<Promise<void>>();
  const intervalMs = 1_000 / rate;
  let next = Date.now();
  let n = 0;
  while (Date.now() < untilMs) {
    const deployments = sim.handle.world().deployments;
    const target = deployments[(n++ * 7919) % Math.max(1, deployments.length)];
    if (target) {
      const atMs = Date.now();
      const p = fetch(`${url}/v1/deployments/${encodeURIComponent(target.id)}/instances?limit=1000`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(30_000),
      })
        .then(async (res) => {
          const body = (await res.json()) as { data?: Instance[] };
          records.push({
            atMs,
            latencyMs: Date.now() - atMs,
            ok: res.ok || res.status === 404,
            deploymentId: target.id,
            unknown: res.status === 404,
            instances: (body.data ?? []).map((i) => ({ id: i.id, state: i.state })),
          });
        })
        .catch(() => {
          records.push({ atMs, latencyMs: Date.now() - atMs, ok: false, deploymentId: target.id, unknown: false, instances: [] });
        })
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }
    next += intervalMs;
    await sleep(Math.max(0, next - Date.now()));
  }
  await Promise.all(inflight);
  return records;
}

/** Aeolus's dbomatic: every instance, one GET /api/instances/:id per period, spread evenly. */
export class Dbomatic {
  private readonly dc: DeltacloudClient;

  constructor(
    private readonly sim: Simulator,
    private readonly store: StateStore,
  ) {
    this.dc = new DeltacloudClient(
      deltacloudBackendSchema.parse({
        id: 'dc-sim',
        kind: 'deltacloud',
        url: sim.deltacloudUrl,
        username: sim.credentials.deltacloudUser,
        password: sim.credentials.deltacloudPassword,
        driver: sim.credentials.driver,
        concurrency: 32,
        retries: 0,
      }),
      { logger: silentLogger() },
    );
  }

  private async pollOne(id: string, deploymentId: string): Promise<void> {
    const observedAtMs = Date.now();
    try {
      const found = await this.dc.getInstance(id);
      if (!found) {
        await this.store.vanishInstances([id], { source: 'dbomatic-baseline', observedAtMs });
        return;
      }
      const { raw: _raw, ...rest } = found;
      await this.store.observeInstance({ ...rest, deploymentId }, { source: 'dbomatic-baseline', observedAtMs });
    } catch {
      // dbomatic logged and moved on; so do we.
    }
  }

  /** Every instance once, as fast as the client allows (a long-running dbomatic's state). */
  async prefill(): Promise<void> {
    await Promise.all(this.sim.handle.world().instances.map((i) => this.pollOne(i.id, i.deploymentId)));
  }

  /** Polls each instance once per `periodMs`, evenly spread, until `untilMs`. */
  async run(periodMs: number, untilMs: number): Promise<void> {
    const inflight = new Set<Promise<void>>();
    while (Date.now() < untilMs) {
      const cycleStart = Date.now();
      const instances = this.sim.handle.world().instances;
      const gap = periodMs / Math.max(1, instances.length);
      for (const [i, inst] of instances.entries()) {
        const due = cycleStart + i * gap;
        if (due >= untilMs) break;
        await sleep(Math.max(0, due - Date.now()));
        const p = this.pollOne(inst.id, inst.deploymentId).finally(() => inflight.delete(p));
        inflight.add(p);
      }
      await sleep(Math.max(0, Math.min(untilMs, cycleStart + periodMs) - Date.now()));
    }
    await Promise.all(inflight);
  }
}

