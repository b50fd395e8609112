/**
 * Every Lua command of the gateway, defined once per connection (the way BullMQ's `Scripts`
 * class keeps its scripts). Store classes call {@link withScripts} on the connection they are
 * given with the scripts they run; a script already defined there is skipped, so two stores
 * sharing one connection never define a command twice and there is one "already defined?"
 * check in the codebase.
 *
 * Only the scripts a connection's stores run are defined on it: ioredis copies every command
 * defined on a connection onto each pipeline it makes (an auto-pipeline is one per write), so
 * all of them (24 when measured) cost ~22 µs per pipeline, more than the rest of making one (~7 µs).
 */
import type { Redis, Result } from 'ioredis';
import { OBSERVE_LUA } from './lua/observe.js';
import {
  ADOPT_TOMBSTONES_LUA,
  AGE_CHUNK_LUA,
  GET_DEPLOYMENT_LUA,
  MISSING_LUA,
  OLDEST_LUA,
  PAGE_LUA,
  PURGE_TOMBSTONES_LUA,
  SERVE_DEPLOYMENT_LUA,
  SERVE_INSTANCE_LUA,
} from './lua/cache.js';
import { ADOPT_STATE_SETS_LUA } from './lua/state-index.js';
import { UPGRADE_RECORDS_LUA } from './lua/record.js';
import { LEASE_LUA, LEASE_RELEASE_LUA, TAKE_DUE_LUA, TAKE_TOKEN_LUA } from './lua/coordination.js';
import { APPEND_LUA, SWITCH_STRATEGY_LUA } from './lua/feed.js';
import { CAS_LUA, CREATE_LUA, SKIP_LUA } from './lua/webhooks.js';
import { CLAIM_LUA, ENSURE_MANY_LUA, FINISH_MANY_LUA, HAND_OVER_LUA, RATE_LUA, RENEW_LUA } from './lua/deliveries.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    // cache
    hgwObserve(...args: (string | number)[]): Result<string, Context>;
    hgwMissing(...args: (string | number)[]): Result<string[], Context>;
    hgwPage(...args: (string | number)[]): Result<string[], Context>;
    hgwGetDeployment(...args: (string | number)[]): Result<string | null, Context>;
    hgwOldest(...args: (string | number)[]): Result<number | null, Context>;
    hgwServeDeployment(...args: (string | number)[]): Result<string[] | null, Context>;
    hgwServeInstance(...args: (string | number)[]): Result<string[] | null, Context>;
    hgwPurgeTombstones(...args: (string | number)[]): Result<number, Context>;
    hgwAdoptTombstones(...args: (string | number)[]): Result<[string, number], Context>;
    hgwAdoptStateSets(...args: (string | number)[]): Result<number, Context>;
    hgwUpgradeRecords(...args: (string | number)[]): Result<[string, number], Context>;
    hgwAgeChunk(...args: (string | number)[]): Result<(string | number)[], Context>;
    // feed and strategy state
    hgwAppend(...args: (string | number)[]): Result<string, Context>;
    hgwSwitchStrategy(...args: (string | number)[]): Result<[number, string, number?], Context>;
    // coordination
    hgwTakeDue(...args: (string | number)[]): Result<string[], Context>;
    hgwTakeToken(...args: (string | number)[]): Result<[number, number], Context>;
    hgwLease(...args: (string | number)[]): Result<number, Context>;
    hgwLeaseRelease(...args: (string | number)[]): Result<number, Context>;
    // webhooks
    hgwWhCas(...args: (string | number)[]): Result<number, Context>;
    hgwWhCreate(...args: (string | number)[]): Result<string, Context>;
    hgwWhEnsureMany(...args: (string | number)[]): Result<((string | number)[] | Error)[], Context>;
    hgwWhClaim(...args: (string | number)[]): Result<string[], Context>;
    hgwWhFinishMany(...args: (string | number)[]): Result<([number, string, string, string] | Error)[], Context>;
    hgwWhRate(...args: (string | number)[]): Result<number, Context>;
    hgwWhHandOver(...args: (string | number)[]): Result<number, Context>;
    hgwWhRenew(...args: (string | number)[]): Result<number, Context>;
    hgwWhSkip(...args: (string | number)[]): Result<string | null, Context>;
  }
}

/** Name → script and how many of its arguments are keys. */
export const SCRIPTS = {
  // A batch: the first argument is the number of keys (the feed and one record per observation).
  hgwObserve: { lua: OBSERVE_LUA },
  hgwMissing: { lua: MISSING_LUA, numberOfKeys: 1 },
  hgwPage: { lua: PAGE_LUA, numberOfKeys: 1 },
  hgwGetDeployment: { lua: GET_DEPLOYMENT_LUA, numberOfKeys: 1 },
  hgwOldest: { lua: OLDEST_LUA, numberOfKeys: 1 },
  hgwServeDeployment: { lua: SERVE_DEPLOYMENT_LUA, numberOfKeys: 1 },
  hgwAgeChunk: { lua: AGE_CHUNK_LUA, numberOfKeys: 1 },
  hgwServeInstance: { lua: SERVE_INSTANCE_LUA, numberOfKeys: 1 },
  hgwPurgeTombstones: { lua: PURGE_TOMBSTONES_LUA, numberOfKeys: 1 },
  hgwAdoptTombstones: { lua: ADOPT_TOMBSTONES_LUA, numberOfKeys: 2 },
  hgwAdoptStateSets: { lua: ADOPT_STATE_SETS_LUA, numberOfKeys: 1 },
  hgwUpgradeRecords: { lua: UPGRADE_RECORDS_LUA, numberOfKeys: 1 },
  hgwAppend: { lua: APPEND_LUA, numberOfKeys: 1 },
  hgwSwitchStrategy: { lua: SWITCH_STRATEGY_LUA, numberOfKeys: 2 },
  hgwTakeDue: { lua: TAKE_DUE_LUA, numberOfKeys: 1 },
  hgwTakeToken: { lua: TAKE_TOKEN_LUA, numberOfKeys: 1 },
  hgwLease: { lua: LEASE_LUA, numberOfKeys: 1 },
  hgwLeaseRelease: { lua: LEASE_RELEASE_LUA, numberOfKeys: 1 },
  hgwWhCas: { lua: CAS_LUA, numberOfKeys: 2 },
  hgwWhCreate: { lua: CREATE_LUA, numberOfKeys: 4 },
  // Batches (see perItem in lua/per-item.ts): the first argument is the number of keys.
  hgwWhEnsureMany: { lua: ENSURE_MANY_LUA },
  hgwWhClaim: { lua: CLAIM_LUA, numberOfKeys: 5 },
  hgwWhFinishMany: { lua: FINISH_MANY_LUA },
  hgwWhRate: { lua: RATE_LUA, numberOfKeys: 1 },
  hgwWhHandOver: { lua: HAND_OVER_LUA, numberOfKeys: 1 },
  hgwWhRenew: { lua: RENEW_LUA, numberOfKeys: 1 },
  hgwWhSkip: { lua: SKIP_LUA, numberOfKeys: 2 },
} as const satisfies Record<string, { lua: string; numberOfKeys?: number }>;

export type ScriptName = keyof typeof SCRIPTS;

const defined = new WeakMap<Redis, Set<ScriptName>>();

/** `redis` with `names` defined (each once per connection). */
export function withScripts(redis: Redis, names: readonly ScriptName[]): Redis {
  let done = defined.get(redis);
  if (!done) defined.set(redis, (done = new Set()));
  for (const name of names) {
    if (done.has(name)) continue;
    redis.defineCommand(name, SCRIPTS[name]);
    done.add(name);
  }
  return redis;
}
