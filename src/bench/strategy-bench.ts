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
import { stringify } from 'yaml';
import { parseConfig } from '../config/load.js';
import { silentLogger } from '../log/logger.js';
import { freePort } from '../redis/local-redis-server.js';
import { startSimulator } from '../sim/simulator.js';
import type { StatsSnapshot } from '../sim/request-stats.js';
import { Stores } from '../store/stores.js';
import { conductorReads, Dbomatic, FeedSightings, type ReadRecord } from './bench-actors.js';
import { BENCH_MODES, benchTokens, gatewayConfig, readsDriveStrategy, truthSourceOf, type BenchMode } from './bench-modes.js';
import { BenchReceiver } from './bench-receiver.js';
import { GatewayProcess } from './gateway-process.js';
import { matchSightings, mean, percentile, Timeline, type TruthSource } from './truth-analysis.js';

export { BENCH_MODES, type BenchMode };


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

const TOKENS = benchTokens();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function load(stats: StatsSnapshot, api: keyof StatsSnapshot['apis'], seconds: number): ApiLoad {
  const a = stats.apis[api];
  return {
    requestsPerSecond: (a?.requests ?? 0) / seconds,
    bytesPerSecond: (a?.responseBytes ?? 0) / seconds,
    workUnitsPerSecond: (a?.workUnits ?? 0) / seconds,
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
  // The benchmark reads the gateway's cache and feed through a store layer of its own.
  const stores = Stores.fromConfig(parseConfig({ redis: { url: options.redisUrl, keyPrefix: prefix }, feed: { maxLength: 10_000_000, maxAgeMs: 86_400_000 } }), {
    logger: silentLogger(),
    now: Date.now,
  });
  const store = stores.cache;
  const source: TruthSource = truthSourceOf(mode);
  const sim = await startSimulator({
    seed: options.seed,
    deployments: options.deployments,
    instancesPerDeployment: options.instancesPerDeployment,
    changeRate: 0,
    rebootWindowMs: options.rebootWindowMs,
  });
  const receiver = new BenchReceiver();
  const receiverUrl = await receiver.start();
  const memoryBefore = await stores.usedMemoryBytes();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'hgw-bench-'));
  const configFile = join(dir, 'gateway.yaml');
  writeFileSync(configFile, stringify(gatewayConfig(mode, { sim, redisUrl: options.redisUrl, prefix, port, strategyOptions: options.strategyOptions, tokens: TOKENS })));
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
    if (readsDriveStrategy(mode)) await fetch(`${url}/v1/instances?limit=1`, { headers: { authorization: `Bearer ${TOKENS.client}` } });
    const dbomatic = mode === 'dbomatic-baseline' ? new Dbomatic(sim, store) : undefined;
    await dbomatic?.prefill();
    await waitUntil(async () => (await store.counts()).instances >= worldSize, 120_000, 'the initial sync', () => gateway.log);

    const follower = new FeedSightings(stores.feed);
    await follower.start();
    const cpuBefore = gateway.cpuSeconds();
    sim.handle.resetStats();
    const t0 = Date.now();
    const t1 = t0 + options.durationMs;
    sim.handle.setChangeRate(options.changeRate);
    const work: Promise<unknown>[] = [conductorReads(sim, url, TOKENS.client, readRate, t1)];
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
    const memoryAfter = await stores.usedMemoryBytes();

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
    await stores.deleteAll();
    await stores.close();
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
    if (readsDriveStrategy(mode) && options.onDemandReadFactor > 1) {
      runs.push({ mode, label: `${mode} ×${options.onDemandReadFactor} reads`, readRate: options.readRate * options.onDemandReadFactor });
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
