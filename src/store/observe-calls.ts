/**
 * Observations as calls of the observe script (lua/observe.ts): their arguments, the
 * batches and windows they are sent in, and the replies read back. The {@link StateStore}
 * validates observations and hands them here.
 */
import { randomFillSync } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { DeploymentObservation, InstanceObservation } from '../model/types.js';
import type { FeedLimits } from './cache-reader.js';
import type { Keys } from './keys.js';

/** Who observed, and when. */
export interface ObserveContext {
  /** Strategy name (served as `source`). */
  source: string;
  /**
   * Gateway time the observation was made, ms since epoch. Use the time the backend request
   * started: it is the latest moment the answer can be older than. A push, which has its own
   * time (`observePushes`), uses that instead.
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

/** `unknown`: a push found no record to patch (observePushes only). */
export type ObserveOutcome = 'stale' | 'refreshed' | 'changed' | 'ignored' | 'not_owner' | 'unknown';

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
 * enough that one call does not hold Redis for long (~1 ms). The script's one state-index
 * ZADD per call spreads two values per observation with Lua's unpack (at most ~8,000).
 */
export const OBSERVE_BATCH = 100;
/** Observations per window of script calls in flight; a larger call is sent as several, two windows at a time. */
export const OBSERVE_PIPELINE = 2_000;

/** One observation as the observe script takes it. */
export interface ObserveItem {
  /** id, group, backend, status, content, updatedAt JSON literal. */
  args: string[];
  /** The backend's time of the change: ms ('' = none) and ISO ('' = none: the observation's). */
  updatedMs: number | '';
  updatedIso: string;
  eventId: string;
  backendKind: string;
  /** Gateway time this observation was made, when it has its own (a push's); else the call's. */
  observedAtMs?: number;
}

const OUTCOMES: readonly ObserveOutcome[] = ['stale', 'refreshed', 'changed', 'ignored', 'not_owner', 'unknown'];

/** Random bytes for event ids, filled 256 ids at a time (as randomUUID caches its own). */
const idBytes = Buffer.alloc(16 * 256);
let idAt = idBytes.length;

/**
 * `evt_` plus 32 hex characters (128 random bits): stable once appended, unique across
 * replicas. Made from a pooled buffer: one per change, and randomUUID's string and the
 * copy without dashes were ~10 % of what a push allocates.
 */
export function newEventId(): string {
  if (idAt === idBytes.length) {
    randomFillSync(idBytes);
    idAt = 0;
  }
  const hex = idBytes.toString('hex', idAt, idAt + 16);
  idAt += 16;
  return `evt_${hex}`;
}

/** An instance observation as the observe script's arguments. */
export function instanceItem(observation: InstanceObservation): ObserveItem {
  // The same bytes as JSON.stringify of the objects, without building them (per change).
  const backend = observation.backend;
  const content =
    `"id":${JSON.stringify(observation.id)},"deploymentId":${JSON.stringify(observation.deploymentId)},` +
    `"name":${JSON.stringify(observation.name)},"state":"${observation.state}",` +
    `"backend":{"id":${JSON.stringify(backend.id)},"kind":${JSON.stringify(backend.kind)},"status":${backend.status === null ? 'null' : JSON.stringify(backend.status)}},` +
    `"addresses":{"public":${sortedJson(observation.addresses.public)},"private":${sortedJson(observation.addresses.private)}}`;
  return item(observation.id, observation.deploymentId, backend.id, observation.state, content, observation.updatedAt, backend.kind);
}

/** JSON of `list` sorted (a copy only when there is something to sort). */
export function sortedJson(list: readonly string[]): string {
  if (list.length === 0) return '[]';
  if (list.length === 1) return `[${JSON.stringify(list[0])}]`;
  return JSON.stringify([...list].sort());
}

export function deploymentItem(observation: DeploymentObservation): ObserveItem {
  const status = observation.status ?? '';
  const content =
    `"id":${JSON.stringify(observation.id)},"name":${JSON.stringify(observation.name)},"status":${JSON.stringify(observation.status)},` +
    `"statusReason":${JSON.stringify(observation.statusReason)},` +
    `"outputs":${JSON.stringify(observation.outputs.map((output) => ({ key: output.key, value: output.value ?? null, description: output.description ?? null })))},` +
    `"backendId":${JSON.stringify(observation.backendId)}`;
  return item(observation.id, observation.id, observation.backendId, status, content, observation.updatedAt, '');
}

function item(
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

/** What a run needs of its store. */
export interface ObserveTarget {
  redis: Redis;
  keys: Keys;
  feed: FeedLimits;
  now: () => number;
  onAppend: (type: string) => void;
}

/**
 * The packed last argument of an observation: `<updatedAt ms>|<event id>|<occurredAt
 * ISO>|<backend kind>|<observedAt ms>|<observedAt ISO>`. The last two are '' when the
 * observation has the call's time; the ISO is '' when it equals occurredAt (a push's time is
 * both), so a push pays for its own time in a few bytes.
 */
function meta(item: ObserveItem, callMs: number, callIso: string, patch: boolean): string {
  const own = item.observedAtMs;
  if (patch && item.updatedIso === '' && own !== undefined) {
    // A push without a time: updatedAt and occurredAt are the record's, which only the script reads.
    return `|${item.eventId}||${item.backendKind}|${own}|${new Date(own).toISOString()}`;
  }
  if (own === undefined || own === callMs) {
    // occurredAt: the backend's time of the change, else the observation's.
    return `${item.updatedMs}|${item.eventId}|${item.updatedIso || callIso}|${item.backendKind}||`;
  }
  // A push's own time is usually its backend time: its ISO is already made.
  const ownIso = own === item.updatedMs ? item.updatedIso : new Date(own).toISOString();
  const occurred = item.updatedIso || ownIso;
  return `${item.updatedMs}|${item.eventId}|${occurred}|${item.backendKind}|${own}|${occurred === ownIso ? '' : ownIso}`;
}

/**
 * Runs the items, all instances (`i`), all deployments (`d`) or all pushed instances (`p`,
 * instance-push.ts), through the observe script, {@link OBSERVE_BATCH} per call, in order;
 * results come back in the items' order.
 */
export async function runObserve(target: ObserveTarget, kind: 'i' | 'd' | 'p', items: ObserveItem[], ctx: ObserveContext): Promise<ObserveResult[]> {
  if (items.length === 0) return [];
  const { keys, feed } = target;
  const now = target.now();
  const observedAtMs = ctx.observedAtMs ?? now;
  const observedAt = new Date(observedAtMs).toISOString();
  const shared = [
    keys.prefix,
    feed.maxLength,
    `${Math.max(0, now - feed.maxAgeMs)}-0`,
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
  let previous: Promise<string[]> | undefined;
  for (let from = 0; from < items.length; from += OBSERVE_PIPELINE) {
    const calls: Promise<string>[] = [];
    const end = Math.min(items.length, from + OBSERVE_PIPELINE);
    for (let at = from; at < end; at += OBSERVE_BATCH) {
      const batchEnd = Math.min(end, at + OBSERVE_BATCH);
      const args: (string | number)[] = [1, keys.feed, ...shared];
      for (let i = at; i < batchEnd; i++) {
        const item = items[i]!;
        for (const arg of item.args) args.push(arg);
        args.push(meta(item, observedAtMs, observedAt, kind === 'p'));
      }
      calls.push(target.redis.hgwObserve(...args));
    }
    const window = Promise.all(calls);
    window.catch(() => {}); // awaited below, after the next window is sent
    if (previous) collect(target, await previous, results);
    previous = window;
  }
  if (previous) collect(target, await previous, results);
  return results;
}

/** Appends the results of script replies (outcome, version, cursor, event per observation, space-separated) in order. */
function collect(target: ObserveTarget, replies: string[], results: ObserveResult[]): void {
  for (const reply of replies) {
    const flat = reply.split(' ');
    for (let i = 0; i < flat.length; i += 4) {
      const code = Number(flat[i]);
      const cursor = flat[i + 2]!;
      const event = flat[i + 3];
      const result: ObserveResult = { outcome: OUTCOMES[code]!, version: Number(flat[i + 1]) };
      if (cursor && code === 4) result.owner = cursor;
      else if (cursor) result.cursor = cursor;
      if (event) {
        result.event = event;
        target.onAppend(event);
      }
      results.push(result);
    }
  }
}
