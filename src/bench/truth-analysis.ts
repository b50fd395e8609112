/**
 * Turns the simulator's ground truth into canonical state transitions, and matches what the
 * gateway showed (feed events, webhook deliveries, Conductor reads) against them. Every
 * latency here is truth time → the moment the benchmark saw something; the gateway's own
 * timestamps are never used.
 */
import { heatServerState, mapDeltacloudState, type InstanceState } from '../model/states.js';
import type { TruthRecord } from '../sim/scenario-world.js';

/** Which backend's view a mode sees: Heat-based strategies, or Deltacloud. */
export type TruthSource = 'heat' | 'deltacloud';

export interface Transition {
  instanceId: string;
  deploymentId: string;
  atMs: number;
  state: InstanceState;
  /** The change kind behind it (`crash`, `reboot`, `reboot_complete`, …). */
  kind: string;
}

/** A state the benchmark saw for an instance at a time (a feed event, a delivery). */
export interface Sighting {
  instanceId: string;
  state: InstanceState;
  atMs: number;
}

export function stateOf(r: TruthRecord, source: TruthSource): InstanceState | null {
  if (r.instanceId === null) return null;
  if (source === 'deltacloud') {
    if (r.deltacloudState === undefined) return null;
    return r.deltacloudState === null ? 'vanished' : mapDeltacloudState(r.deltacloudState);
  }
  if (r.novaStatus === 'DELETED') return 'vanished';
  return heatServerState(r.novaStatus, r.resourceStatus).state;
}

/**
 * Per-instance state timelines. `startMs` splits history: records before it only set the
 * starting state; transitions are the changes of canonical state at or after it.
 */
export class Timeline {
  private readonly byInstance = new Map<string, { atMs: number; state: InstanceState }[]>();
  readonly transitions: Transition[] = [];

  constructor(records: readonly TruthRecord[], source: TruthSource, startMs: number) {
    for (const r of records) {
      const state = stateOf(r, source);
      if (state === null || r.instanceId === null) continue;
      const line = this.byInstance.get(r.instanceId) ?? [];
      const last = line.at(-1);
      if (last?.state === state) continue;
      line.push({ atMs: r.atMs, state });
      this.byInstance.set(r.instanceId, line);
      if (r.atMs >= startMs) this.transitions.push({ instanceId: r.instanceId, deploymentId: r.deploymentId, atMs: r.atMs, state, kind: r.kind });
    }
  }

  /** The true state at `atMs`, and since when it has held. */
  at(instanceId: string, atMs: number): { state: InstanceState; sinceMs: number } | null {
    const line = this.byInstance.get(instanceId);
    if (!line) return null;
    let found: { atMs: number; state: InstanceState } | undefined;
    for (const point of line) {
      if (point.atMs > atMs) break;
      found = point;
    }
    return found ? { state: found.state, sinceMs: found.atMs } : null;
  }
}

export interface MatchResult {
  /** Latency (ms) of each detected transition. */
  latenciesMs: number[];
  missed: Transition[];
  detected: Transition[];
}

/**
 * Matches transitions to sightings: a transition to state S at t is seen by the earliest
 * unused sighting of S for that instance at or after t, unless the instance made another
 * transition to S before that sighting (then the sighting belongs to the later one).
 */
export function matchSightings(transitions: readonly Transition[], sightings: readonly Sighting[]): MatchResult {
  const pool = new Map<string, Sighting[]>();
  for (const s of [...sightings].sort((a, b) => a.atMs - b.atMs)) {
    const key = `${s.instanceId}|${s.state}`;
    pool.set(key, [...(pool.get(key) ?? []), s]);
  }
  const ordered = [...transitions].sort((a, b) => a.atMs - b.atMs);
  const nextSame = new Map<Transition, number>();
  const lastSeen = new Map<string, Transition>();
  for (let i = ordered.length - 1; i >= 0; i--) {
    const t = ordered[i]!;
    const key = `${t.instanceId}|${t.state}`;
    const later = lastSeen.get(key);
    nextSame.set(t, later ? later.atMs : Number.POSITIVE_INFINITY);
    lastSeen.set(key, t);
  }
  const result: MatchResult = { latenciesMs: [], missed: [], detected: [] };
  for (const t of ordered) {
    const candidates = pool.get(`${t.instanceId}|${t.state}`) ?? [];
    while (candidates.length > 0 && candidates[0]!.atMs < t.atMs) candidates.shift();
    const first = candidates[0];
    if (first && first.atMs < nextSame.get(t)!) {
      candidates.shift();
      result.latenciesMs.push(first.atMs - t.atMs);
      result.detected.push(t);
    } else {
      result.missed.push(t);
    }
  }
  return result;
}

/** Percentile (nearest rank) of `values`; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}
