/**
 * One cloud's figures in a benchmark run: backend load, detection latency against the ground
 * truth, webhook deliveries, missed transitions, and what Conductor's reads saw.
 */
import type { Simulator } from '../sim/simulator.js';
import type { StatsSnapshot } from '../sim/request-stats.js';
import type { ReadRecord } from './bench-actors.js';
import type { BenchReceiver } from './bench-receiver.js';
import { matchSightings, mean, percentile, Timeline, type Sighting, type TruthSource } from './truth-analysis.js';
import type { ApiLoad, ModeResult } from './strategy-bench.js';

function load(stats: StatsSnapshot, api: keyof StatsSnapshot['apis'], seconds: number): ApiLoad {
  const a = stats.apis[api];
  return {
    requestsPerSecond: (a?.requests ?? 0) / seconds,
    bytesPerSecond: (a?.responseBytes ?? 0) / seconds,
    workUnitsPerSecond: (a?.workUnits ?? 0) / seconds,
  };
}

export interface CloudRun {
  sim: Simulator;
  source: TruthSource;
  stats: StatsSnapshot;
  reads: ReadRecord[];
}

export function analyseCloud(
  cloud: CloudRun,
  run: { t0: number; t1: number; durationMs: number; sightings: Sighting[]; receiver: BenchReceiver },
): Omit<ModeResult, 'mode' | 'strategy' | 'readRate' | 'gateway' | 'redis'> {
  const { sim, source, stats, reads } = cloud;
  const timeline = new Timeline(sim.handle.truth(), source, run.t0);
  const transitions = timeline.transitions.filter((t) => t.atMs <= run.t1);
  const detection = matchSightings(transitions, run.sightings);
  const deliveries = matchSightings(transitions, run.receiver.sightings);
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
  const seconds = run.durationMs / 1_000;
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
    source,
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
      deliveries: run.receiver.deliveries,
      matched: deliveries.detected.length,
      p50Ms: percentile(deliveries.latenciesMs, 50),
      p99Ms: percentile(deliveries.latenciesMs, 99),
      verificationFailures: run.receiver.verificationFailures,
    },
    missed: {
      count: detection.missed.length,
      fraction: transitions.length === 0 ? 0 : detection.missed.length / transitions.length,
      reboots: { transitions: reboots.length, missed: rebootsMissed, fraction: reboots.length === 0 ? 0 : rebootsMissed / reboots.length },
    },
    requestsPerChange: transitions.length === 0 ? 0 : (backend.total.requestsPerSecond * seconds) / transitions.length,
    reads: {
      count: reads.length,
      errors: reads.length - okReads.length,
      p50Ms: percentile(reads.map((r) => r.latencyMs), 50),
      p99Ms: percentile(reads.map((r) => r.latencyMs), 99),
      staleFraction: okReads.length === 0 ? 0 : staleness.length / okReads.length,
      meanStalenessMs: staleness.length === 0 ? 0 : mean(staleness),
    },
  };
}
