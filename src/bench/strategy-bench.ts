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
import { Stores } from '../store/stores.js';
import { conductorReads, Dbomatic, FeedSightings } from './bench-actors.js';
import { analyseCloud } from './cloud-analysis.js';
import { LocalRabbitMQServer } from '../push/local-rabbitmq-server.js';
import { amqpMode, BENCH_MODES, benchTokens, cloudsOf, DBOMATIC, gatewayConfig, MIXED, readsDriveStrategy, type BenchMode } from './bench-modes.js';
import { BenchReceiver } from './bench-receiver.js';
import { GatewayProcess } from './gateway-process.js';
import type { TruthSource } from './truth-analysis.js';

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
  /** Backend requests (all APIs) per ground-truth transition in the window. */
  requestsPerChange: number;
  reads: { count: number; errors: number; p50Ms: number; p99Ms: number; staleFraction: number; meanStalenessMs: number };
  gateway: { cpuSeconds: number; peakRssMiB: number };
  redis: { usedMemoryMiB: number };
}

const TOKENS = benchTokens();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`benchmark: timed out waiting for ${what}\n${log().slice(-3_000)}`);
    await sleep(100);
  }
}

/**
 * One mode: one row per cloud. A single-strategy mode runs one simulated cloud; `mixed` runs
 * a Heat cloud and a Deltacloud-only cloud, each backend on its own strategy.
 */
export async function runMode(mode: BenchMode, options: BenchOptions, label: string, readRate: number, report: (phase: string, fraction: number) => void): Promise<ModeResult[]> {
  const prefix = `{bench-${randomBytes(4).toString('hex')}}:`;
  // The benchmark reads the gateway's cache and feed through a store layer of its own.
  const stores = Stores.fromConfig(parseConfig({ redis: { url: options.redisUrl, keyPrefix: prefix }, feed: { maxLength: 10_000_000, maxAgeMs: 86_400_000 } }), {
    logger: silentLogger(),
    now: Date.now,
  });
  await stores.ready();
  const store = stores.cache;
  const simOptions = { deployments: options.deployments, instancesPerDeployment: options.instancesPerDeployment, changeRate: 0, rebootWindowMs: options.rebootWindowMs };
  // The AMQP mode gets a private RabbitMQ the simulator publishes Nova/Heat notifications to.
  const rabbit = mode === amqpMode() ? await LocalRabbitMQServer.start() : undefined;
  const sim = await startSimulator({ ...simOptions, seed: options.seed, ...(rabbit ? { notifications: { amqpUrl: rabbit.url, novaFormat: 'legacy' as const } } : {}) });
  const dcSim = mode === MIXED ? await startSimulator({ ...simOptions, seed: `${options.seed}-dc` }) : undefined;
  const clouds = cloudsOf(mode, sim, dcSim);
  const receiver = new BenchReceiver();
  const receiverUrl = await receiver.start();
  const memoryBefore = await stores.usedMemoryBytes();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'hgw-bench-'));
  const configFile = join(dir, 'gateway.yaml');
  writeFileSync(configFile, stringify(gatewayConfig(mode, { sim, ...(dcSim ? { dcSim } : {}), ...(rabbit ? { amqpUrl: rabbit.url } : {}), redisUrl: options.redisUrl, prefix, port, strategyOptions: options.strategyOptions, tokens: TOKENS })));
  const gateway = GatewayProcess.start(configFile);
  try {
    report('starting', 0);
    // Ready, not only alive: the gateway listens (and /healthz answers) before Redis and its
    // strategy are up, and an on-demand warm-up read before that would fetch nothing.
    await waitUntil(async () => (await fetch(`${url}/readyz`)).ok, 30_000, 'the gateway to be ready', () => gateway.log);
    const hook = await fetch(`${url}/v1/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.client}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: receiverUrl, description: `benchmark ${label}` }),
    });
    if (hook.status !== 201) throw new Error(`benchmark: webhook registration failed (${hook.status}): ${await hook.text()}`);
    receiver.setSecret(((await hook.json()) as { secret: string }).secret);

    // Warm-up: the cache holds the world before anything is measured.
    report('warm-up', 0);
    const worldSize = clouds.reduce((n, c) => n + c.sim.handle.world().instances.length, 0);
    if (readsDriveStrategy(mode)) await fetch(`${url}/v1/instances?limit=1`, { headers: { authorization: `Bearer ${TOKENS.client}` } });
    const dbomatic = mode === DBOMATIC ? new Dbomatic(sim, store) : undefined;
    await dbomatic?.prefill();
    await waitUntil(async () => (await store.counts()).instances >= worldSize, 120_000, 'the initial sync', () => gateway.log);

    const follower = new FeedSightings(stores.feed);
    await follower.start();
    const cpuBefore = gateway.cpuSeconds();
    for (const c of clouds) c.sim.handle.resetStats();
    const t0 = Date.now();
    const t1 = t0 + options.durationMs;
    for (const c of clouds) c.sim.handle.setChangeRate(options.changeRate / clouds.length);
    // Conductor reads each cloud's deployments, at an equal share of the read rate.
    const work = clouds.map((c) => conductorReads(c.sim, url, TOKENS.client, readRate / clouds.length, t1));
    const baseline = dbomatic?.run(options.dbomaticPeriodMs, t1);
    while (Date.now() < t1) {
      report('measuring', (Date.now() - t0) / options.durationMs);
      await sleep(Math.min(500, Math.max(0, t1 - Date.now())));
    }
    for (const c of clouds) c.sim.handle.setChangeRate(0);
    const stats = clouds.map((c) => c.sim.handle.stats());
    const reads = await Promise.all(work);
    await baseline;
    const graceEnd = Date.now() + options.graceMs;
    while (Date.now() < graceEnd) {
      report('grace', 1 - (graceEnd - Date.now()) / options.graceMs);
      await sleep(Math.min(500, Math.max(0, graceEnd - Date.now())));
    }
    await follower.stop();
    const cpuSeconds = gateway.cpuSeconds() - cpuBefore;
    const peakRssMiB = gateway.peakRssMiB();
    const memoryAfter = await stores.usedMemoryBytes();
    return clouds.map((c, i) => ({
      mode: clouds.length > 1 ? `${label}: ${c.label}` : label,
      strategy: mode,
      readRate: readRate / clouds.length,
      ...analyseCloud({ sim: c.sim, source: c.source, stats: stats[i]!, reads: reads[i]! }, { t0, t1, durationMs: options.durationMs, sightings: follower.sightings, receiver }),
      // One gateway serves every cloud of the run: its cost is the run's.
      gateway: { cpuSeconds, peakRssMiB },
      redis: { usedMemoryMiB: Math.max(0, memoryAfter - memoryBefore) / 1_048_576 },
    }));
  } finally {
    await gateway.stop();
    await receiver.close();
    await sim.close();
    await dcSim?.close();
    await rabbit?.stop();
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
      ...(await runMode(run.mode, options, run.label, run.readRate, (phase, fraction) =>
        options.onProgress?.({ mode: run.label, index, of: runs.length, phase, fraction }),
      )),
    );
  }
  const { onProgress: _p, redisUrl: _r, ...config } = options;
  return { config, results };
}
