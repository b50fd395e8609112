/**
 * `GET /v1/instances/:id` over a 10,000-instance cache, next to a bare express 5 + ioredis
 * `HGETALL` route over the same 10,000 instances, measured in the same run.
 *
 *   npx tsx bench/read-throughput.ts [--instances 10000] [--connections 50] [--duration 10] [--rounds 2]
 *
 * Fairness: each server runs alone in its own child process (same runtime: node + tsx), the
 * load generator (autocannon) runs in this process, and both talk to the same Redis
 * (REDIS_URL, or a private redis-server). Servers are measured one at a time, alternating
 * baseline/gateway for `rounds` rounds after a warm-up; the best round of each is reported.
 * Every request asks for a random id of the 10,000. The gateway runs with the real module,
 * a no-op strategy, three bearer tokens configured (auth on every request) and no rate limit.
 * Its read path uses a dedicated ioredis connection with auto-pipelining (part of the
 * product's hot path); the baseline uses an ioredis client with default options and express
 * defaults (including express' own ETag computation).
 * Target: gateway requests/s >= 1.0x the baseline's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import express from 'express';
import { Redis } from 'ioredis';
import { createConductorApiModule } from '../src/api/conductor-api-module.js';
import { fixedStrategy } from '../src/api/active-strategy.js';
import { parseConfig } from '../src/config/load.js';
import { Gateway } from '../src/gateway.js';
import { silentLogger } from '../src/log/logger.js';
import type { InstanceObservation } from '../src/model/types.js';
import { LocalRedisServer } from '../src/redis/local-redis-server.js';
import { StateStore } from '../src/store/state-store.js';
import type { Strategy } from '../src/strategy/strategy.js';
import { printTable, writeResult } from './report.js';

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '10000' },
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    serve: { type: 'string' },
    redis: { type: 'string' },
  },
});
const PREFIX = '{bench-read}:';
const TOKEN = 'bench-client-token-0123456789abcdef';

/** Serves the cache as is: the read path without any strategy work. */
const noopStrategy: Strategy = {
  name: 'noop',
  start: async () => {},
  stop: async () => {},
  beforeRead: async () => ({ failed: false }),
  staleAfterMs: () => Number.POSITIVE_INFINITY,
  onPush: async () => {},
};

// ------------------------------------------------------------------ child: one server

async function serveGateway(redisUrl: string): Promise<string> {
  const config = parseConfig({
    server: { port: 0 },
    redis: { url: redisUrl, keyPrefix: PREFIX },
    auth: {
      tokens: [
        { name: 'bench-client', token: TOKEN, role: 'client' },
        { name: 'bench-admin', token: 'bench-admin-token-0123456789abcdef', role: 'admin' },
        { name: 'bench-backend', token: 'bench-backend-token-0123456789abcdef', role: 'backend' },
      ],
    },
    log: { level: 'error', format: 'json' },
  });
  const gateway = new Gateway({ config, logger: silentLogger(), modules: [(deps) => createConductorApiModule(deps, fixedStrategy(noopStrategy))] });
  return gateway.start();
}

async function serveBaseline(redisUrl: string): Promise<string> {
  const redis = new Redis(redisUrl);
  const app = express();
  app.get('/v1/instances/:id', async (req, res) => {
    const record = await redis.hgetall(`${PREFIX}i:${req.params.id}`);
    if (!record.j) {
      res.status(404).json({ error: 'not found' });
      return;
    }
    res.type('application/json').send(record.j);
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as { port: number };
  return `http://127.0.0.1:${address.port}`;
}

if (values.serve) {
  const url = values.serve === 'gateway' ? await serveGateway(values.redis!) : await serveBaseline(values.redis!);
  process.stdout.write(`${url}\n`);
} else {
  await main();
}

// ------------------------------------------------------------------ parent: seed, load, report

function observation(n: number): InstanceObservation {
  return {
    id: `srv-${n}`,
    deploymentId: `stack-${n % 200}`,
    name: `server-${n % 5}`,
    state: 'running',
    backend: { id: 'heat-1', kind: 'heat', status: 'ACTIVE' },
    addresses: { public: [`172.24.${(n >> 8) & 255}.${n & 255}`], private: [`10.0.${(n >> 8) & 255}.${n & 255}`] },
    updatedAt: new Date(Date.UTC(2026, 10, 25)).toISOString(),
  };
}

async function startChild(kind: 'gateway' | 'baseline', redisUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', kind, '--redis', redisUrl], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve(line.trim());
    });
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  return { child, url };
}

async function load(url: string, ids: number, auth: boolean, seconds: number, connections: number) {
  const headers: Record<string, string> = auth ? { authorization: `Bearer ${TOKEN}` } : {};
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        headers,
        setupRequest: (req) => ({ ...req, path: `/v1/instances/srv-${Math.floor(Math.random() * ids)}` }),
      },
    ],
  });
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${url}: ${bad} failed requests (non2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts})`);
  return { requestsPerSecond: result.requests.average, p99Ms: result.latency.p99, p50Ms: result.latency.p50, total: result.requests.total };
}

async function main() {
  const instances = Number(values.instances);
  const connections = Number(values.connections);
  const duration = Number(values.duration);
  const rounds = Number(values.rounds);

  const local = process.env.REDIS_URL ? undefined : await LocalRedisServer.start();
  const redisUrl = process.env.REDIS_URL ?? local!.url;
  const redis = new Redis(redisUrl);
  const clean = async () => {
    const keys = await redis.keys(`${PREFIX}*`);
    for (let i = 0; i < keys.length; i += 1_000) await redis.del(...keys.slice(i, i + 1_000));
  };
  await clean();
  const store = new StateStore(redis, PREFIX, { maxLength: 1_000_000, maxAgeMs: 86_400_000 });
  for (let i = 0; i < instances; i += 500) {
    const batch: InstanceObservation[] = [];
    for (let n = i; n < Math.min(i + 500, instances); n++) batch.push(observation(n));
    await store.observeInstances(batch, { source: 'cached-poll' });
  }

  const gateway = await startChild('gateway', redisUrl);
  const baseline = await startChild('baseline', redisUrl);
  try {
    // Warm-up (JIT, script cache, connection pools).
    await load(baseline.url, instances, false, 2, connections);
    await load(gateway.url, instances, true, 2, connections);
    const runs: { baseline: Awaited<ReturnType<typeof load>>[]; gateway: Awaited<ReturnType<typeof load>>[] } = { baseline: [], gateway: [] };
    for (let round = 0; round < rounds; round++) {
      runs.baseline.push(await load(baseline.url, instances, false, duration, connections));
      runs.gateway.push(await load(gateway.url, instances, true, duration, connections));
    }
    const best = (xs: Awaited<ReturnType<typeof load>>[]) => xs.reduce((a, b) => (b.requestsPerSecond > a.requestsPerSecond ? b : a));
    const b = best(runs.baseline);
    const g = best(runs.gateway);
    const ratio = g.requestsPerSecond / b.requestsPerSecond;
    printTable(
      ['server', 'requests/s', 'p50 ms', 'p99 ms'],
      [
        ['bare express 5 + ioredis HGETALL (baseline)', Math.round(b.requestsPerSecond).toLocaleString('en-US'), String(b.p50Ms), String(b.p99Ms)],
        ['heat-gateway GET /v1/instances/:id', Math.round(g.requestsPerSecond).toLocaleString('en-US'), String(g.p50Ms), String(g.p99Ms)],
      ],
    );
    console.log(`ratio gateway / baseline: ${ratio.toFixed(3)} (target >= 1.0: ${ratio >= 1 ? 'met' : 'NOT met'})`);
    const file = writeResult('read-throughput', {
      bench: 'read-throughput',
      layout: 'each server alone in its own child process (node --import tsx); autocannon in the parent; one shared Redis',
      instances,
      connections,
      durationSeconds: duration,
      rounds,
      baseline: { ...b, rounds: runs.baseline },
      gateway: { ...g, rounds: runs.gateway },
      ratio: Number(ratio.toFixed(3)),
      target: 1.0,
      meetsTarget: ratio >= 1,
    });
    console.log(`wrote ${file}`);
  } finally {
    gateway.child.kill('SIGTERM');
    baseline.child.kill('SIGTERM');
    await clean();
    redis.disconnect();
    await local?.stop();
  }
}
