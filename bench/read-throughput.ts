/**
 * Reads through the real gateway process, next to a bare express 5 + ioredis route over the
 * same cache, measured in the same run.
 *
 *   npx tsx bench/read-throughput.ts [--instances 10000] [--connections 50] [--duration 10] [--rounds 3] [--out DIR] [--publish]
 *
 * - The gateway is `heat-gateway start --config <file>` in a child process with its default
 *   modules: the config (written by this benchmark to a temp dir) has a client token, an
 *   admin token, the default strategy (cached-poll) and no backend; the cache is pre-seeded
 *   with `instances` instances through the store (the way a strategy fills it).
 * - The baseline is a bare express 5 app in another child, with an ioredis client in default
 *   options over the same Redis: `HGETALL` of the instance's hash for one instance, `ZRANGE`
 *   + pipelined `HGET` for a page, and an ETag from the version with a 304 on a match.
 * - autocannon (in this process) drives each server alone, alternating baseline/gateway for
 *   `rounds` rounds after a warm-up, for three requests: one random instance, a page of 100
 *   from a random offset, and the same instance with a matching If-None-Match (304).
 *   The ratio of the median rounds is reported; p99 too. Target: gateway ≥ 1.2× baseline
 *   with p99 no worse.
 * Results: bench/results/scratch/read-throughput.json (`--out DIR`: DIR/read-throughput.json;
 * bench/results/ with --publish).
 * Uses REDIS_URL when set, otherwise a private redis-server.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import express from 'express';
import { Redis } from 'ioredis';
import { GatewayProcess } from '../src/bench/gateway-process.js';
import { LocalRedisServer } from '../src/redis/local-redis-server.js';
import { deletePrefix } from '../src/store/delete-prefix.js';
import { Keys } from '../src/store/keys.js';
import { CLIENT_TOKEN, freePort, instanceId, seedInstances, waitHttp, writeGatewayConfig } from './read-setup.js';
import { loadAverage, printTable, writeResult } from './report.js';

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '10000' },
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    out: { type: 'string' },
    publish: { type: 'boolean', default: false },
    serve: { type: 'string' },
    redis: { type: 'string' },
    port: { type: 'string' },
  },
});
const PREFIX = '{bench-read}:';
const TOKEN = CLIENT_TOKEN;
const PAGE = 100;

// ------------------------------------------------------------------ child: the bare baseline

async function serveBaseline(redisUrl: string): Promise<void> {
  const keys = new Keys(PREFIX);
  const redis = new Redis(redisUrl);
  const app = express();
  app.get('/v1/instances/:id', async (req, res) => {
    const record = await redis.hgetall(keys.instance(req.params.id));
    if (!record.j) {
      res.status(404).json({ error: 'not found' });
      return;
    }
    // The version is the last field of w (store layout 4: `u|cl|bkk|ob|v`).
    const etag = `W/"i${record.w!.slice(record.w!.lastIndexOf('|') + 1)}"`;
    res.setHeader('ETag', etag);
    if (req.headers['if-none-match'] === etag) {
      res.status(304).end();
      return;
    }
    res.type('application/json').send(`{"data":${record.j}}`);
  });
  app.get('/v1/instances', async (req, res) => {
    const offset = Number(req.query.offset ?? 0);
    const ids = await redis.zrange(keys.allInstances, String(offset), String(offset + PAGE - 1));
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hget(keys.instance(id), 'j');
    const replies = (await pipeline.exec()) ?? [];
    res.type('application/json').send(`{"data":[${replies.map(([, j]) => j as string).join(',')}]}`);
  });
  const server = app.listen(Number(values.port), '127.0.0.1');
  await once(server, 'listening');
  process.stdout.write('listening\n');
}


// ------------------------------------------------------------------ parent: seed, load, report

type Scenario = 'one' | 'page' | '304';
interface Figures {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  total: number;
}

async function load(url: string, scenario: Scenario, instances: number, auth: boolean, seconds: number, connections: number): Promise<Figures> {
  const headers: Record<string, string> = auth ? { authorization: `Bearer ${TOKEN}` } : {};
  const id = instanceId;
  const random = () => Math.floor(Math.random() * instances);
  const hot = id(42);
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        headers: scenario === '304' ? { ...headers, 'if-none-match': 'W/"i1"' } : headers,
        setupRequest: (req) => {
          if (scenario === 'one') return { ...req, path: `/v1/instances/${id(random())}` };
          if (scenario === '304') return { ...req, path: `/v1/instances/${hot}` };
          // A page of 100 from a random place: the gateway pages by cursor (the id before it).
          const at = Math.floor(Math.random() * (instances - PAGE));
          return { ...req, path: auth ? `/v1/instances?limit=${PAGE}${at === 0 ? '' : `&cursor=${id(at - 1)}`}` : `/v1/instances?offset=${at}` };
        },
      },
    ],
  });
  const expected = scenario === '304' ? 304 : 200;
  const wrong = Object.entries(result.statusCodeStats ?? {}).filter(([code]) => Number(code) !== expected);
  const bad = result.errors + result.timeouts + wrong.reduce((n, [, s]) => n + (s.count ?? 0), 0);
  if (bad > 0) throw new Error(`${url} ${scenario}: ${bad} unexpected answers (${JSON.stringify(result.statusCodeStats)}, errors ${result.errors}, timeouts ${result.timeouts})`);
  return { requestsPerSecond: result.requests.average, p50Ms: result.latency.p50, p99Ms: result.latency.p99, total: result.requests.total };
}

const median = (xs: Figures[]) => [...xs].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)[Math.floor(xs.length / 2)]!;

async function main() {
  const instances = Number(values.instances);
  const connections = Number(values.connections);
  const duration = Number(values.duration);
  const rounds = Number(values.rounds);
  const loadBefore = loadAverage();

  const local = process.env.REDIS_URL ? undefined : await LocalRedisServer.start();
  const redisUrl = process.env.REDIS_URL ?? local!.url;
  const redis = new Redis(redisUrl);
  await deletePrefix(redis, PREFIX);
  await seedInstances(redis, PREFIX, instances);

  const dir = mkdtempSync(join(tmpdir(), 'hgw-bench-read-'));
  const gatewayPort = await freePort();
  const configFile = writeGatewayConfig(dir, { port: gatewayPort, redisUrl, prefix: PREFIX });
  const gateway = GatewayProcess.start(configFile, { NODE_ENV: 'production' });
  const baselinePort = await freePort();
  let baselineLog = '';
  const baseline = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', 'baseline', '--redis', redisUrl, '--port', String(baselinePort)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  baseline.stdout!.on('data', (c: Buffer) => (baselineLog += c.toString()));
  baseline.stderr!.on('data', (c: Buffer) => (baselineLog += c.toString()));
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  const baselineUrl = `http://127.0.0.1:${baselinePort}`;
  try {
    await waitHttp(`${gatewayUrl}/healthz`, gateway.child, () => gateway.log);
    await waitHttp(`${baselineUrl}/v1/instances/srv-000001`, baseline, () => baselineLog);
    const scenarios: { scenario: Scenario; label: string }[] = [
      { scenario: 'one', label: 'GET /v1/instances/:id (random of all)' },
      { scenario: 'page', label: `GET /v1/instances page of ${PAGE}` },
      { scenario: '304', label: 'GET /v1/instances/:id If-None-Match → 304' },
    ];
    const rows: string[][] = [];
    const results: Record<string, unknown> = {};
    for (const { scenario, label } of scenarios) {
      // Warm-up (JIT, script cache, connection pools, the gateway's read cache).
      await load(baselineUrl, scenario, instances, false, 2, connections);
      await load(gatewayUrl, scenario, instances, true, 2, connections);
      const runs = { baseline: [] as Figures[], gateway: [] as Figures[], load: [] as string[] };
      for (let round = 0; round < rounds; round++) {
        runs.baseline.push(await load(baselineUrl, scenario, instances, false, duration, connections));
        runs.gateway.push(await load(gatewayUrl, scenario, instances, true, duration, connections));
        runs.load.push(loadAverage());
      }
      const b = median(runs.baseline);
      const g = median(runs.gateway);
      const ratio = g.requestsPerSecond / b.requestsPerSecond;
      const met = ratio >= 1.2 && g.p99Ms <= b.p99Ms;
      const perRound = runs.gateway.map((r, i) => (r.requestsPerSecond / runs.baseline[i]!.requestsPerSecond).toFixed(2)).join(' ');
      rows.push([label, Math.round(b.requestsPerSecond).toLocaleString('en-US'), String(b.p99Ms), Math.round(g.requestsPerSecond).toLocaleString('en-US'), String(g.p99Ms), ratio.toFixed(2), perRound, met ? 'met' : 'NOT met']);
      results[scenario] = { label, baseline: b, gateway: g, ratio: Number(ratio.toFixed(3)), meetsTarget: met, rounds: runs };
    }
    printTable(['request', 'baseline req/s', 'p99 ms', 'gateway req/s', 'p99 ms', 'ratio (median)', 'ratio per round', '≥ 1.2×, p99 no worse'], rows);
    console.log(`load average before: ${loadBefore}; after: ${loadAverage()}`);
    const file = writeResult(
      'read-throughput',
      {
        bench: 'read-throughput',
        layout: '`heat-gateway start --config` (default modules) and a bare express 5 + ioredis app, each in its own child process; autocannon in the parent; one shared Redis',
        instances,
        connections,
        durationSeconds: duration,
        rounds,
        target: { ratio: 1.2, p99: 'no worse than the baseline' },
        loadAverageBefore: loadBefore,
        results,
      },
      { publish: values.publish, dir: values.out },
    );
    console.log(`wrote ${file}`);
  } finally {
    await gateway.stop();
    baseline.kill('SIGTERM');
    await deletePrefix(redis, PREFIX);
    redis.disconnect();
    await local?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.serve) {
  await serveBaseline(values.redis!);
} else {
  await main();
}
