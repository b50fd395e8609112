/**
 * observe() throughput over 10,000 instances, pipelined, next to a plain pipelined HSET of
 * the same documents measured in the same run against the same Redis.
 *
 *   npx tsx bench/store.ts [--instances 10000] [--batch 500] [--rounds 5]
 *
 * Uses REDIS_URL when set, otherwise spawns a private redis-server. Each round writes every
 * instance once with a real change (so every observe appends a feed event: the worst case).
 * Target: at least 50,000 observations/s on a 2-core machine (issue 15).
 *
 * Also measures what an instance costs in Redis: MEMORY USAGE of its record (a sample of
 * 1,000) plus its share of the indexes (all instances, per backend, the state index, per
 * deployment); the feed is reported apart, per event, since its size is set by retention.
 * Also measures, for each path, the CPU it costs per operation: Redis's (INFO cpu, user + sys,
 * delta over the timed rounds) and this process's (process.cpuUsage: building arguments,
 * encoding, parsing replies). Those are what the wall-clock rate is made of and what a quiet
 * or bigger machine would show: on 2 shared cores the wall figure mostly measures the load.
 * A third pass observes every instance again unchanged (a poll that finds nothing new: only
 * observedAt is refreshed, no event), the common case of a running gateway.
 *
 * Results go to bench/results/scratch/ (git-ignored); `--publish` writes bench/results/.
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { LocalRedisServer } from '../src/redis/local-redis-server.js';
import { StateStore } from '../src/store/state-store.js';
import type { InstanceObservation } from '../src/model/types.js';
import { loadAverage, printTable, redisCpuSeconds, writeResult } from './report.js';

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '10000' },
    batch: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '5' },
    publish: { type: 'boolean', default: false },
  },
});
const instances = Number(values.instances);
const batch = Number(values.batch);
const rounds = Number(values.rounds);

const local = process.env.REDIS_URL ? undefined : await LocalRedisServer.start();
const redis = new Redis(process.env.REDIS_URL ?? local!.url);
const prefix = '{bench}:';

function observation(n: number, round: number): InstanceObservation {
  return {
    id: `srv-${n}`,
    deploymentId: `stack-${n % 200}`,
    name: `server-${n % 5}`,
    state: round % 2 === 0 ? 'running' : 'stopped',
    backend: { id: 'heat-1', kind: 'heat', status: round % 2 === 0 ? 'ACTIVE' : 'SHUTOFF' },
    addresses: { public: [`172.24.${(n >> 8) & 255}.${n & 255}`], private: [`10.0.${(n >> 8) & 255}.${n & 255}`] },
    updatedAt: new Date(Date.UTC(2026, 10, 25) + round * 1_000).toISOString(),
  };
}

const redisCpu = () => redisCpuSeconds(redis);

/** Time taken, and Redis's and this process's CPU seconds spent, by `run`. */
interface Cost {
  seconds: number;
  redisCpu: number;
  nodeCpu: number;
}
const costs: Record<string, Cost[]> = { baseline: [], changed: [], unchanged: [], retained: [] };
async function timed(into: Cost[], run: () => Promise<void>): Promise<number> {
  const redis0 = await redisCpu();
  const node0 = process.cpuUsage();
  const started = process.hrtime.bigint();
  await run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const node = process.cpuUsage(node0);
  into.push({ seconds, redisCpu: (await redisCpu()) - redis0, nodeCpu: (node.user + node.system) / 1e6 });
  return seconds;
}

async function clean() {
  const keys = await redis.keys(`${prefix}*`);
  for (let i = 0; i < keys.length; i += 1_000) await redis.del(...keys.slice(i, i + 1_000));
}

// Baseline: the documents a store write produces, HSET in the same batches, no logic.
async function baseline(round: number) {
  for (let i = 0; i < instances; i += batch) {
    const p = redis.pipeline();
    for (let n = i; n < Math.min(i + batch, instances); n++) {
      p.hset(`${prefix}base:${n}`, 'j', JSON.stringify({ ...observation(n, round), observedAt: new Date().toISOString(), source: 'bench', version: round + 1 }));
    }
    await p.exec();
  }
}

// The gateway's default feed retention: 1,000,000 events, so the feed grows all through the
// timed rounds (every event lands in memory Redis has not used yet).
const store = new StateStore(redis, prefix, { maxLength: 1_000_000, maxAgeMs: 86_400_000 });
async function observe(round: number, into = store) {
  for (let i = 0; i < instances; i += batch) {
    const obs: InstanceObservation[] = [];
    for (let n = i; n < Math.min(i + batch, instances); n++) obs.push(observation(n, round));
    await into.observeInstances(obs, { source: 'bench' });
  }
}

const usage = async (key: string) => Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
await clean();
// Warm up both paths (script load, JIT) before measuring.
await baseline(0);
await observe(0);

const baseTimes: number[] = [];
const storeTimes: number[] = [];
const unchangedTimes: number[] = [];
for (let round = 1; round <= rounds; round++) {
  baseTimes.push(await timed(costs.baseline!, () => baseline(round)));
  storeTimes.push(await timed(costs.changed!, () => observe(round)));
  // The same round again: every observation identical (observedAt refreshed, no event).
  unchangedTimes.push(await timed(costs.unchanged!, () => observe(round)));
}
const events = await redis.xlen(`${prefix}feed`);
const feedBytes = await usage(`${prefix}feed`);

// The same changes with the feed held at its retention: every script call trims as many
// entries as it appends, and Redis reuses the memory the trimmed ones held. A gateway making
// 50,000 changes/s fills the default feed (1,000,000 events) in 20 s; after that every
// append is this case, not the growing one above.
const retained = new StateStore(redis, prefix, { maxLength: events, maxAgeMs: 86_400_000 });
const retainedTimes: number[] = [];
for (let round = rounds + 1; round <= 2 * rounds; round++) retainedTimes.push(await timed(costs.retained!, () => observe(round, retained)));

// What an instance costs: its record (sampled) and its share of every index it is in.
const sample = Math.min(1_000, instances);
let recordBytes = 0;
for (let n = 0; n < sample; n++) recordBytes += await usage(`${prefix}i:srv-${n}`);
const indexKeys = [`${prefix}idx:i`, `${prefix}b:heat-1:i`, `${prefix}st:i`];
for (let d = 0; d < 200; d++) indexKeys.push(`${prefix}d:stack-${d}:i`);
let indexBytes = 0;
for (const key of indexKeys) indexBytes += await usage(key);
const bytesPerInstance = Math.round(recordBytes / sample + indexBytes / instances);
await clean();
redis.disconnect();
await local?.stop();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** CPU microseconds per operation over all rounds of a path. */
const perOp = (path: string, side: 'redisCpu' | 'nodeCpu') =>
  Number((((costs[path] ?? []).reduce((sum, c) => sum + c[side], 0) / (instances * rounds)) * 1e6).toFixed(1));
const cpu = (path: string) => ({ redisCpuUsPerOp: perOp(path, 'redisCpu'), nodeCpuUsPerOp: perOp(path, 'nodeCpu') });
const baseRate = instances / median(baseTimes);
const storeRate = instances / median(storeTimes);
const unchangedRate = instances / median(unchangedTimes);
const observeCpu = cpu('changed');
const retainedCpu = cpu('retained');
const retainedRate = instances / median(retainedTimes);
const result = {
  bench: 'store',
  instances,
  batch,
  rounds,
  feedEventsAppended: events,
  baselineHsetPerSecond: Math.round(baseRate),
  observePerSecond: Math.round(storeRate),
  ratio: Number((storeRate / baseRate).toFixed(3)),
  unchangedObservePerSecond: Math.round(unchangedRate),
  observeAtRetentionPerSecond: Math.round(retainedRate),
  cpu: { baseline: cpu('baseline'), changed: observeCpu, unchanged: cpu('unchanged'), retained: retainedCpu },
  // What one Redis core can take of changed observations, and one gateway core can send: the
  // rate on a machine where each has its own core (the gateway overlaps building the next
  // script call with Redis running the last).
  redisBoundObservePerSecond: Math.round(1e6 / observeCpu.redisCpuUsPerOp),
  nodeBoundObservePerSecond: Math.round(1e6 / observeCpu.nodeCpuUsPerOp),
  redisBoundAtRetentionPerSecond: Math.round(1e6 / retainedCpu.redisCpuUsPerOp),
  nodeBoundAtRetentionPerSecond: Math.round(1e6 / retainedCpu.nodeCpuUsPerOp),
  targetObservePerSecond: 50_000,
  meetsTarget: storeRate >= 50_000,
  redisBytesPerInstance: bytesPerInstance,
  redisRecordBytes: Math.round(recordBytes / sample),
  redisIndexBytesPerInstance: Math.round(indexBytes / instances),
  feedBytesPerEvent: events ? Math.round(feedBytes / events) : 0,
};
const us = (path: keyof typeof result.cpu) => `Redis ${result.cpu[path].redisCpuUsPerOp} µs + gateway ${result.cpu[path].nodeCpuUsPerOp} µs`;
printTable(
  ['path', 'ops/s (median of rounds)', 'CPU per op'],
  [
    ['pipelined HSET (baseline)', result.baselineHsetPerSecond.toLocaleString('en-US'), us('baseline')],
    ['StateStore.observeInstances, every one a change', result.observePerSecond.toLocaleString('en-US'), us('changed')],
    ['ratio observe / baseline', result.ratio.toFixed(2), ''],
    ['StateStore.observeInstances, unchanged (refresh)', result.unchangedObservePerSecond.toLocaleString('en-US'), us('unchanged')],
    ['changes, one core each: Redis-bound / gateway-bound', `${result.redisBoundObservePerSecond.toLocaleString('en-US')} / ${result.nodeBoundObservePerSecond.toLocaleString('en-US')}`, ''],
    ['… every one a change, feed held at its retention', result.observeAtRetentionPerSecond.toLocaleString('en-US'), us('retained')],
    ['… at retention, one core each: Redis-bound / gateway-bound', `${result.redisBoundAtRetentionPerSecond.toLocaleString('en-US')} / ${result.nodeBoundAtRetentionPerSecond.toLocaleString('en-US')}`, ''],
    ['Redis bytes per instance (record + indexes)', `${result.redisBytesPerInstance} (${result.redisRecordBytes} + ${result.redisIndexBytesPerInstance})`, ''],
    ['feed bytes per event', String(result.feedBytesPerEvent), ''],
  ],
);
console.log(`load average ${loadAverage()}`);
console.log(`feed events appended: ${events} (one per real change); target 50,000 obs/s: ${result.meetsTarget ? 'met' : 'NOT met'}`);
console.log(`written to ${writeResult('store', result, { publish: values.publish })}`);
