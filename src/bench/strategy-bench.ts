/**
 * The strategy comparison: the same seeded simulator scenario, run once per mode (the four
 * strategies plus `dbomatic-baseline`, which polls `GET /api/instances/:id` once per instance
 * every 60 s as Aeolus's dbomatic daemon did), measured against the simulator's ground truth.
 *
 * Per mode: a fresh simulator and gateway process on one Redis (own key prefix); a warm-up
 * until the cache holds the world; then `durationMs` of changes while a Conductor emulator
 * reads, a webhook receiver verifies deliveries and a follower timestamps every feed event;
 * then `graceMs` for late detections. See docs/benchmarks.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { DeltacloudClient } from '../backends/deltacloud-client.js';
import { deltacloudBackendSchema, type StrategyName } from '../config/schema.js';
import { silentLogger } from '../log/logger.js';
import type { InstanceState } from '../model/states.js';
import type { Instance } from '../model/types.js';
import { deletePrefix } from '../store/delete-prefix.js';
import { freePort } from '../redis/local-redis-server.js';
import { startSimulator, type Simulator } from '../sim/simulator.js';
import type { StatsSnapshot } from '../sim/request-stats.js';
import { toEntry } from '../store/change-feed.js';
import { StateStore } from '../store/state-store.js';
import { BenchReceiver } from './bench-receiver.js';
import { GatewayProcess } from './gateway-process.js';
import { matchSightings, mean, percentile, Timeline, type Sighting, type TruthSource } from './truth-analysis.js';

export const BENCH_MODES = ['on-demand', 'cached-poll', 'webhook', 'deltacloud-poll', 'dbomatic-baseline'] as const;
export type BenchMode = (typeof BENCH_MODES)[number];

export interface BenchOptions {
  modes: BenchMode[];
  deployments: number;
  instancesPerDeployment: number;
  /** Simulated changes per second during the measured window. */
  changeRate: number;
  /** How long a short reboot lasts. */
  rebootWindowMs: number;
  durationMs: number;
  /** After the window: time for late detections and deliveries. */
  graceMs: number;
  /** Conductor emulator reads per second (GET /v1/deployments/:id/instances). */
  readRate: number;
  /** on-demand is run again at this multiple of `readRate`, to show cost growing with reads. */
  onDemandReadFactor: number;
  /** dbomatic's per-instance poll period. */
  dbomaticPeriodMs: number;
  seed: string;
  /** Strategy options for every gateway (empty: the documented defaults). */
  strategyOptions: Record<string, unknown>;
  redisUrl: string;
  /** Called with progress lines / fractions. */
  onProgress?: (p: { mode: string; index: number; of: number; phase: string; fraction: number }) => void;
}

export interface ApiLoad {
  requestsPerSecond: number;
  bytesPerSecond: number;
  workUnitsPerSecond: number;
}

export interface ModeResult {
  mode: string;
  strategy: BenchMode;
  source: TruthSource;
  readRate: number;
  backend: { heat: ApiLoad; keystone: ApiLoad; deltacloud: ApiLoad; zaqar: ApiLoad; total: ApiLoad };
  detection: { transitions: number; detected: number; p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number };
  webhook: { deliveries: number; matched: number; p50Ms: number; p99Ms: number; verificationFailures: number };
  missed: { count: number; fraction: number; reboots: { transitions: number; missed: number; fraction: number } };
  reads: { count: number; errors: number; p50Ms: number; p99Ms: number; staleFraction: number; meanStalenessMs: number };
  gateway: { cpuSeconds: number; peakRssMiB: number };
  redis: { usedMemoryMiB: number };
}

const TOKENS = { client: `bench-client-${randomBytes(8).toString('hex')}`, admin: `bench-admin-${randomBytes(8).toString('hex')}` };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function load(stats: StatsSnapshot, api: keyof StatsSnapshot['apis'], seconds: number): ApiLoad {
  const a = stats.apis[api];
  return {
    requestsPerSecond: (a?.requests ?? 0) / seconds,
    bytesPerSecond: (a?.responseBytes ?? 0) / seconds,
    workUnitsPerSecond: (a?.workUnits ?? 0) / seconds,
  };
}

async function usedMemoryBytes(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

/** Follows the feed and timestamps every instance state the cache shows. */
class FeedFollower {
  readonly sightings: Sighting[] = [];
  private running = true;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly feedKey: string,
  ) {}

  async start(): Promise<void> {
    const last = (await this.redis.xrevrange(this.feedKey, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0';
    this.loop = (async () => {
      let after = last;
      while (this.running) {
        const reply = await this.redis.xread('COUNT', 1_000, 'BLOCK', 200, 'STREAMS', this.feedKey, after);
        const now = Date.now();
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            after = id;
            const entry = toEntry(id, fields);
            if (!entry.type.startsWith('instance.')) continue;
            const event = JSON.parse(entry.json) as { data: { current?: Instance } };
            if (event.data.current) {
              this.sightings.push({ instanceId: event.data.current.id, state: event.data.current.state, atMs: now });
            }
          }
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

interface ReadRecord {
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
async function conductorReads(sim: Simulator, url: string, rate: number, untilMs: number): Promise<ReadRecord[]> {
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
        headers: { authorization: `Bearer ${TOKENS.client}` },
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
class Dbomatic {
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

function gatewayConfig(
  mode: BenchMode,
  sim: Simulator,
  redisUrl: string,
  prefix: string,
  port: number,
  strategyOptions: Record<string, unknown>,
): Record<string, unknown> {
  const c = sim.credentials;
  const backends =
    mode === 'dbomatic-baseline'
      ? []
      : [
          {
            id: 'heat-sim',
            kind: 'heat',
            keystone: { url: sim.keystoneUrl, username: c.username, password: c.password, projectName: c.projectName },
            concurrency: 16,
            push: { subscriptionUrl: `${sim.zaqarUrl}/queues/heat-events/subscriptions`, token: `bench-push-${randomBytes(8).toString('hex')}` },
          },
          { id: 'dc-sim', kind: 'deltacloud', url: sim.deltacloudUrl, username: c.deltacloudUser, password: c.deltacloudPassword, driver: c.driver, concurrency: 16 },
        ];
  return {
    server: { host: '127.0.0.1', port },
    redis: { url: redisUrl, keyPrefix: prefix },
    auth: {
      tokens: [
        { name: 'bench-conductor', token: TOKENS.client, role: 'client' },
        { name: 'bench-admin', token: TOKENS.admin, role: 'admin' },
      ],
    },
    backends,
    // The full run compares the documented defaults; --quick scales the intervals down.
    strategy: { ...strategyOptions, name: (mode === 'dbomatic-baseline' ? 'on-demand' : mode) satisfies StrategyName },
    webhooks: { allowNetworks: ['127.0.0.0/8'] },
    log: { level: 'error', format: 'json' },
  };
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`benchmark: timed out waiting for ${what}\n${log().slice(-3_000)}`);
    await sleep(100);
  }
}

export async function runMode(mode: BenchMode, options: BenchOptions, label: string, readRate: number, report: (phase: string, fraction: number) => void): Promise<ModeResult> {
  const prefix = `{bench-${randomBytes(4).toString('hex')}}:`;
  const redis = new Redis(options.redisUrl);
  const store = new StateStore(redis, prefix, { maxLength: 10_000_000, maxAgeMs: 86_400_000 });
  const source: TruthSource = mode === 'deltacloud-poll' || mode === 'dbomatic-baseline' ? 'deltacloud' : 'heat';
  const sim = await startSimulator({
    seed: options.seed,
    deployments: options.deployments,
    instancesPerDeployment: options.instancesPerDeployment,
    changeRate: 0,
    rebootWindowMs: options.rebootWindowMs,
  });
  const receiver = new BenchReceiver();
  const receiverUrl = await receiver.start();
  const memoryBefore = await usedMemoryBytes(redis);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'hgw-bench-'));
  const configFile = join(dir, 'gateway.yaml');
  writeFileSync(configFile, stringify(gatewayConfig(mode, sim, options.redisUrl, prefix, port, options.strategyOptions)));
  const gateway = GatewayProcess.start(configFile);
  try {
    report('starting', 0);
    await waitUntil(async () => (await fetch(`${url}/healthz`)).ok, 30_000, 'the gateway to start', () => gateway.log);
    const hook = await fetch(`${url}/v1/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.client}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiverUrl, description: `benchmark ${label}` }),
    });
    if (hook.status !== 201) throw new Error(`benchmark: webhook registration failed (${hook.status}): ${await hook.text()}`);
    receiver.setSecret(((await hook.json()) as { secret: string }).secret);

    // Warm-up: the cache holds the world before anything is measured.
    report('warm-up', 0);
    const worldSize = sim.handle.world().instances.length;
    if (mode === 'on-demand') await fetch(`${url}/v1/instances?limit=1`, { headers: { authorization: `Bearer ${TOKENS.client}` } });
    const dbomatic = mode === 'dbomatic-baseline' ? new Dbomatic(sim, store) : undefined;
    await dbomatic?.prefill();
    await waitUntil(async () => (await store.counts()).instances >= worldSize, 120_000, 'the initial sync', () => gateway.log);

    const follower = new FeedFollower(redis, store.keys.feed);
    await follower.start();
    const cpuBefore = gateway.cpuSeconds();
    sim.handle.resetStats();
    const t0 = Date.now();
    const t1 = t0 + options.durationMs;
    sim.handle.setChangeRate(options.changeRate);
    const work: Promise<unknown>[] = [conductorReads(sim, url, readRate, t1)];
    if (dbomatic) work.push(dbomatic.run(options.dbomaticPeriodMs, t1));
    while (Date.now() < t1) {
      report('measuring', (Date.now() - t0) / options.durationMs);
      await sleep(Math.min(500, Math.max(0, t1 - Date.now())));
    }
    sim.handle.setChangeRate(0);
    const stats = sim.handle.stats();
    const [reads] = (await Promise.all(work)) as [ReadRecord[]];
    const graceEnd = Date.now() + options.graceMs;
    while (Date.now() < graceEnd) {
      report('grace', 1 - (graceEnd - Date.now()) / options.graceMs);
      await sleep(Math.min(500, Math.max(0, graceEnd - Date.now())));
    }
    await follower.stop();
    const cpuSeconds = gateway.cpuSeconds() - cpuBefore;
    const peakRssMiB = gateway.peakRssMiB();
    const memoryAfter = await usedMemoryBytes(redis);

    const timeline = new Timeline(sim.handle.truth(), source, t0);
    const transitions = timeline.transitions.filter((t) => t.atMs <= t1);
    const detection = matchSightings(transitions, follower.sightings);
    const deliveries = matchSightings(transitions, receiver.sightings);
    const reboots = transitions.filter((t) => t.kind === 'reboot' || t.kind === 'reboot_complete');
    const rebootsMissed = detection.missed.filter((t) => t.kind === 'reboot' || t.kind === 'reboot_complete').length;

    const okReads = reads.filter((r) => r.ok);
    const staleness: number[] = [];
    const launchedAt = new Map<string, number>();
    for (const rec of sim.handle.truth()) if (!launchedAt.has(rec.deploymentId)) launchedAt.set(rec.deploymentId, rec.atMs);
    for (const r of okReads) {
      if (r.unknown) {
        // Conductor launched it, the gateway does not know it yet: stale since the launch.
        staleness.push(r.atMs - (launchedAt.get(r.deploymentId) ?? r.atMs));
        continue;
      }
      let worst = -1;
      for (const inst of r.instances) {
        const truth = timeline.at(inst.id, r.atMs);
        if (truth && truth.state !== inst.state) worst = Math.max(worst, r.atMs - truth.sinceMs);
      }
      if (worst >= 0) staleness.push(worst);
    }
    const seconds = options.durationMs / 1_000;
    const apis = ['heat', 'keystone', 'deltacloud', 'zaqar'] as const;
    const backend = Object.fromEntries(apis.map((a) => [a, load(stats, a, seconds)])) as ModeResult['backend'];
    backend.total = apis.reduce<ApiLoad>(
      (sum, a) => ({
        requestsPerSecond: sum.requestsPerSecond + backend[a].requestsPerSecond,
        bytesPerSecond: sum.bytesPerSecond + backend[a].bytesPerSecond,
        workUnitsPerSecond: sum.workUnitsPerSecond + backend[a].workUnitsPerSecond,
      }),
      { requestsPerSecond: 0, bytesPerSecond: 0, workUnitsPerSecond: 0 },
    );
    return {
      mode: label,
      strategy: mode,
      source,
      readRate,
      backend,
      detection: {
        transitions: transitions.length,
        detected: detection.detected.length,
        p50Ms: percentile(detection.latenciesMs, 50),
        p95Ms: percentile(detection.latenciesMs, 95),
        p99Ms: percentile(detection.latenciesMs, 99),
        maxMs: percentile(detection.latenciesMs, 100),
      },
      webhook: {
        deliveries: receiver.deliveries,
        matched: deliveries.detected.length,
        p50Ms: percentile(deliveries.latenciesMs, 50),
        p99Ms: percentile(deliveries.latenciesMs, 99),
        verificationFailures: receiver.verificationFailures,
      },
      missed: {
        count: detection.missed.length,
        fraction: transitions.length === 0 ? 0 : detection.missed.length / transitions.length,
        reboots: { transitions: reboots.length, missed: rebootsMissed, fraction: reboots.length === 0 ? 0 : rebootsMissed / reboots.length },
      },
      reads: {
        count: reads.length,
        errors: reads.length - okReads.length,
        p50Ms: percentile(reads.map((r) => r.latencyMs), 50),
        p99Ms: percentile(reads.map((r) => r.latencyMs), 99),
        staleFraction: okReads.length === 0 ? 0 : staleness.length / okReads.length,
        meanStalenessMs: staleness.length === 0 ? 0 : mean(staleness),
      },
      gateway: { cpuSeconds, peakRssMiB },
      redis: { usedMemoryMiB: Math.max(0, memoryAfter - memoryBefore) / 1_048_576 },
    };
  } finally {
    await gateway.stop();
    await receiver.close();
    await sim.close();
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }
}

export interface BenchReport {
  config: Omit<BenchOptions, 'onProgress' | 'redisUrl'>;
  results: ModeResult[];
}

/** Every mode in turn (plus on-demand at the higher read rate). */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const runs: { mode: BenchMode; label: string; readRate: number }[] = [];
  for (const mode of options.modes) {
    runs.push({ mode, label: mode, readRate: options.readRate });
    if (mode === 'on-demand' && options.onDemandReadFactor > 1) {
      runs.push({ mode, label: `on-demand ×${options.onDemandReadFactor} reads`, readRate: options.readRate * options.onDemandReadFactor });
    }
  }
  const results: ModeResult[] = [];
  for (const [index, run] of runs.entries()) {
    results.push(
      await runMode(run.mode, options, run.label, run.readRate, (phase, fraction) =>
        options.onProgress?.({ mode: run.label, index, of: runs.length, phase, fraction }),
      ),
    );
  }
  const { onProgress: _p, redisUrl: _r, ...config } = options;
  return { config, results };
}
