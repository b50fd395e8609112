/**
 * Gateway replicas sharing one Redis: read throughput per replica for 1, 2 and 3 replicas,
 * and the model that projects it to a machine with a core per replica.
 *
 *   npx tsx bench/replicas.ts [--replicas 1,2,3] [--instances 10000] [--connections 50] [--duration 10] [--out DIR] [--publish]
 *
 * - Redis is seeded with `instances` instances through the store (bench/read-setup.ts, the
 *   same seeding as bench/read-throughput.ts). Uses REDIS_URL when set, otherwise a private
 *   redis-server.
 * - For each N, N real `heat-gateway start --config` children (one config each, differing
 *   only in the port; same Redis, same key prefix, default modules) are started, warmed up
 *   for 2 s each, then driven at once for `duration` seconds by one autocannon per replica
 *   (`connections` each, in this process) with `GET /v1/instances/:id` of a random instance.
 *   Then they are stopped before the next N.
 * - Measured per N: each replica's req/s and the total; Redis CPU seconds per 1,000 requests
 *   (INFO cpu, user + sys, delta over the run: everything Redis did, the replicas'
 *   background work included, and also less what Redis spends in 2 s with the replicas
 *   connected and idle); each replica's CPU per request (/proc/<pid>/stat utime + stime
 *   delta); this process's CPU (the load generator) and the load average.
 * - The model: a replica with a core of its own serves 1 / (its CPU per request) req/s;
 *   Redis serves (1 s − its idle CPU per s) / (Redis CPU per request, less idle). throughput(N) = min(N × per-replica rate,
 *   Redis capacity), and Redis saturates at N = capacity / per-replica rate. The replica's rate
 *   comes from the 1-replica run (the least contended), Redis's cost per request from the run
 *   where it was highest (every replica fills its own read cache from Redis). On a 2-core machine shared by N gateways,
 *   Redis and the load generator, the measured totals for N ≥ 2 are CPU-bound: compare the
 *   CPU the run used with the cores there are.
 * Results: bench/results/scratch/replicas.json (`--out DIR`: DIR/; bench/results/ with --publish).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { GatewayProcess } from '../src/bench/gateway-process.js';
import { LocalRedisServer } from '../src/redis/local-redis-server.js';
import { deletePrefix } from '../src/store/delete-prefix.js';
import { CLIENT_TOKEN, freePort, instanceId, seedInstances, waitHttp, writeGatewayConfig } from './read-setup.js';
import { loadAverage, printTable, redisCpuSeconds, writeResult } from './report.js';

const { values } = parseArgs({
  options: {
    replicas: { type: 'string', default: '1,2,3' },
    instances: { type: 'string', default: '10000' },
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10' },
    out: { type: 'string' },
    publish: { type: 'boolean', default: false },
  },
});
const PREFIX = '{bench-replicas}:';
const counts = values.replicas.split(',').map(Number);
const instances = Number(values.instances);
const connections = Number(values.connections);
const duration = Number(values.duration);

interface Drive {
  requests: number;
  requestsPerSecond: number;
  p99Ms: number;
}

/** One autocannon run against one replica: random instances, every answer must be a 200. */
async function drive(url: string, seconds: number, { warmUp = false } = {}): Promise<Drive> {
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        headers: { authorization: `Bearer ${CLIENT_TOKEN}` },
        setupRequest: (req) => ({ ...req, path: `/v1/instances/${instanceId(Math.floor(Math.random() * instances))}` }),
      },
    ],
  });
  const wrong = Object.entries(result.statusCodeStats ?? {}).filter(([code]) => code !== '200');
  const bad = result.errors + result.timeouts + wrong.reduce((n, [, s]) => n + (s.count ?? 0), 0);
  if (bad > 0 && !warmUp) throw new Error(`${url}: ${bad} unexpected answers (${JSON.stringify(result.statusCodeStats)}, errors ${result.errors}, timeouts ${result.timeouts})`);
  return { requests: result.requests.total, requestsPerSecond: result.requests.average, p99Ms: result.latency.p99 };
}

interface Run {
  replicas: number;
  perReplica: (Drive & { cpuSeconds: number; cpuMsPerRequest: number })[];
  totalRequestsPerSecond: number;
  redisCpuSeconds: number;
  redisCpuMsPer1000Requests: number;
  /** Redis CPU per second with the replicas connected but not asked anything. */
  redisIdleCpuMsPerSecond: number;
  redisCpuMsPer1000RequestsLessIdle: number;
  gatewayCpuMsPerRequest: number;
  loadGeneratorCpuSeconds: number;
  /** CPU seconds used per wall second by Redis, the replicas and the load generator together. */
  coresBusy: number;
  loadAverage: string;
}

async function measure(replicas: number, redis: Redis, redisUrl: string, dir: string): Promise<Run> {
  const gateways: { process: GatewayProcess; url: string }[] = [];
  try {
    for (let i = 0; i < replicas; i++) {
      const port = await freePort();
      const config = writeGatewayConfig(dir, { port, redisUrl, prefix: PREFIX, name: `replica-${i + 1}` });
      gateways.push({ process: GatewayProcess.start(config, { NODE_ENV: 'production' }), url: `http://127.0.0.1:${port}` });
    }
    // Ready: Redis connected and the modules running (/healthz answers before that).
    for (const g of gateways) await waitHttp(`${g.url}/readyz`, g.process.child, () => g.process.log);
    // Warm-up: JIT, connection pools, each replica's read cache (a 503 here is not counted).
    for (const g of gateways) await drive(g.url, 2, { warmUp: true });

    // Redis's background work with these replicas connected and idle (heartbeats, queue
    // polling): reported apart, since at a low request rate it is most of Redis's CPU.
    const idle0 = await redisCpuSeconds(redis);
    const idleStarted = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, 2_000));
    const idlePerSecond = ((await redisCpuSeconds(redis)) - idle0) / (Number(process.hrtime.bigint() - idleStarted) / 1e9);

    const redis0 = await redisCpuSeconds(redis);
    const cpu0 = gateways.map((g) => g.process.cpuSeconds());
    const self0 = process.cpuUsage();
    const started = process.hrtime.bigint();
    const drives = await Promise.all(gateways.map((g) => drive(g.url, duration)));
    const wall = Number(process.hrtime.bigint() - started) / 1e9;
    const self = process.cpuUsage(self0);
    const redisCpu = (await redisCpuSeconds(redis)) - redis0;
    const perReplica = drives.map((d, i) => {
      const cpuSeconds = gateways[i]!.process.cpuSeconds() - cpu0[i]!;
      return { ...d, cpuSeconds, cpuMsPerRequest: (cpuSeconds / d.requests) * 1_000 };
    });
    const requests = perReplica.reduce((n, r) => n + r.requests, 0);
    const gatewayCpu = perReplica.reduce((n, r) => n + r.cpuSeconds, 0);
    const loadGeneratorCpuSeconds = (self.user + self.system) / 1e6;
    return {
      replicas,
      perReplica,
      totalRequestsPerSecond: perReplica.reduce((n, r) => n + r.requestsPerSecond, 0),
      redisCpuSeconds: redisCpu,
      redisCpuMsPer1000Requests: (redisCpu / requests) * 1e6,
      redisIdleCpuMsPerSecond: idlePerSecond * 1_000,
      redisCpuMsPer1000RequestsLessIdle: (Math.max(0, redisCpu - idlePerSecond * wall) / requests) * 1e6,
      gatewayCpuMsPerRequest: (gatewayCpu / requests) * 1_000,
      loadGeneratorCpuSeconds,
      coresBusy: (redisCpu + gatewayCpu + loadGeneratorCpuSeconds) / wall,
      loadAverage: loadAverage(),
    };
  } finally {
    await Promise.all(gateways.map((g) => g.process.stop()));
  }
}

async function main() {
  const loadBefore = loadAverage();
  const local = process.env.REDIS_URL ? undefined : await LocalRedisServer.start();
  const redisUrl = process.env.REDIS_URL ?? local!.url;
  const redis = new Redis(redisUrl);
  const dir = mkdtempSync(join(tmpdir(), 'hgw-bench-replicas-'));
  const runs: Run[] = [];
  try {
    await deletePrefix(redis, PREFIX);
    await seedInstances(redis, PREFIX, instances);
    for (const n of counts) runs.push(await measure(n, redis, redisUrl, dir));
  } finally {
    await deletePrefix(redis, PREFIX);
    redis.disconnect();
    await local?.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const fmt = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  printTable(
    ['replicas', 'req/s per replica', 'total req/s', 'Redis CPU ms / 1,000 req (less idle)', 'Redis idle CPU ms/s', 'gateway CPU ms / req', 'cores busy', 'load average'],
    runs.map((r) => [
      String(r.replicas),
      r.perReplica.map((p) => fmt(p.requestsPerSecond)).join(' / '),
      fmt(r.totalRequestsPerSecond),
      `${fmt(r.redisCpuMsPer1000Requests, 1)} (${fmt(r.redisCpuMsPer1000RequestsLessIdle, 1)})`,
      fmt(r.redisIdleCpuMsPerSecond, 1),
      fmt(r.gatewayCpuMsPerRequest, 3),
      `${fmt(r.coresBusy, 2)} of ${cpus().length}`,
      r.loadAverage,
    ]),
  );

  // The model. A replica's rate comes from the least contended run (the fewest replicas: its
  // own CPU per request, which 2 shared cores inflate as N grows). Redis's cost per request
  // comes from the run where it was highest: it grows with N, since every replica fills its
  // own read cache from Redis and a short run does not amortise that, so the model's Redis
  // capacity is the conservative one.
  const base = runs[0]!;
  const redisWorst = runs.reduce((worst, r) => (r.redisCpuMsPer1000RequestsLessIdle > worst.redisCpuMsPer1000RequestsLessIdle ? r : worst));
  const perReplicaRate = 1_000 / base.gatewayCpuMsPerRequest;
  // Redis's capacity for requests: its core, less what it spends on the replicas' background
  // work, over its CPU per request less that background (which at a low rate is most of it).
  const perRequestMs = redisWorst.redisCpuMsPer1000RequestsLessIdle / 1_000;
  const redisCapacity = perRequestMs > 0 ? Math.max(0, 1_000 - redisWorst.redisIdleCpuMsPerSecond) / perRequestMs : Number.POSITIVE_INFINITY;
  const saturatesAt = redisCapacity / perReplicaRate;
  const model = [1, 2, 3, 4, 8, 16, 32].map((n) => ({ replicas: n, requestsPerSecond: Math.round(Math.min(n * perReplicaRate, redisCapacity)) }));
  console.log(
    `\nmodel: a replica with its own core serves 1 / ${fmt(base.gatewayCpuMsPerRequest, 3)} ms = ${fmt(perReplicaRate)} req/s (the ${base.replicas}-replica run); ` +
      `Redis serves (1,000 − ${fmt(redisWorst.redisIdleCpuMsPerSecond, 1)} idle) ms/s / ${fmt(perRequestMs, 4)} ms = ${fmt(redisCapacity)} req/s on its core (the ${redisWorst.replicas}-replica run, its costliest per request)`,
  );
  console.log(`throughput(N) = min(N × ${fmt(perReplicaRate)}, ${fmt(redisCapacity)}): ${model.map((m) => `N=${m.replicas} ${fmt(m.requestsPerSecond)}`).join(', ')}`);
  console.log(`Redis saturates at N ≈ ${fmt(saturatesAt, 1)} replicas (each on its own core)`);
  console.log(`load average before: ${loadBefore}; after: ${loadAverage()}; ${cpus().length} cores for Redis, ${counts.at(-1)} replicas and the load generator`);

  const file = writeResult(
    'replicas',
    {
      bench: 'replicas',
      layout: 'N × `heat-gateway start --config` (default modules, one port each) on one Redis; one autocannon per replica in the parent, all at once',
      request: 'GET /v1/instances/:id of a random seeded instance',
      instances,
      connectionsPerReplica: connections,
      durationSeconds: duration,
      loadAverageBefore: loadBefore,
      runs,
      model: {
        from: { replicaRate: `${base.replicas}-replica run`, redisCostPerRequest: `${redisWorst.replicas}-replica run` },
        perReplicaRequestsPerSecond: Math.round(perReplicaRate),
        redisCapacityRequestsPerSecond: Number.isFinite(redisCapacity) ? Math.round(redisCapacity) : null,
        redisSaturatesAtReplicas: Number.isFinite(saturatesAt) ? Number(saturatesAt.toFixed(1)) : null,
        throughput: model,
      },
    },
    { publish: values.publish, dir: values.out },
  );
  console.log(`wrote ${file}`);
}

await main();
