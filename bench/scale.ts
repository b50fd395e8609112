/**
 * Scale: the real `heat-gateway start` process (a config file written here, the same a user
 * runs) against the simulator (`heat-gateway sim`, a child process too) at 10k / 50k / 100k
 * instances, five per stack (so 100,000 instances are 20,000 stacks). Per size and strategy:
 *
 *   - fill: seconds from spawning the gateway until every instance is in the cache
 *   - peak RSS of the gateway process (VmHWM from /proc; the built CLI, as a user runs it)
 *   - Redis bytes per instance: MEMORY USAGE of a sample of records plus the indexes' share,
 *     and the INFO used_memory delta per instance (which also counts the feed: one
 *     instance.created event per instance, and everything else the gateway keeps)
 *   - read p99 of GET /v1/instances/:id (1,000 random ids, 10 at a time)
 *   - seconds to page through everything with GET /v1/instances?limit=1000
 *
 *   npm run bench:scale -- [--sizes 10000,50000,100000]
 *                          [--strategies deltacloud-poll,cached-poll,webhook,webhook-amqp]
 *                          [--quick] [--out DIR] [--publish]
 *
 * `webhook` subscribes its ingest URL with the simulator's Zaqar (the fill is the resync that
 * follows the subscription); `webhook-amqp` is the same strategy fed from the simulator's
 * RabbitMQ notification bus (`push.amqp`, a private rabbitmq-server started for the row).
 * `--quick` runs 2,000 instances (a smoke run). Results: JSON + Markdown in
 * bench/results/scratch/ (git-ignored), DIR with `--out DIR`, or bench/results/ with
 * `--publish`. Each size gets its own redis-server, simulator and gateway, stopped by PID
 * afterwards.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { GatewayProcess } from '../src/bench/gateway-process.js';
import { LocalRabbitMQServer } from '../src/push/local-rabbitmq-server.js';
import { LocalRedisServer } from '../src/redis/local-redis-server.js';
import { printTable, writeResult } from './report.js';
import { simField as field, simHeatBackend, startSim, stopSim } from './sim-child.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,50000,100000' },
    strategies: { type: 'string', default: 'deltacloud-poll,cached-poll,webhook' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    publish: { type: 'boolean', default: false },
    'fill-timeout-s': { type: 'string', default: '900' },
  },
});
const sizes = values.quick ? [2_000] : values.sizes.split(',').map(Number);
const strategies = values.strategies.split(',');
const PER_STACK = 5;
const TOKEN = 'bench-client-token-0123456789abcdef';
const PREFIX = '{scale}:';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function configFor(strategy: string, sim: string, redisUrl: string, port: number, amqpUrl?: string): Record<string, unknown> {
  const backend =
    strategy === 'deltacloud-poll'
      ? {
          id: 'dc-1',
          kind: 'deltacloud',
          timeoutMs: 60_000,
          retries: 2,
          concurrency: 8,
          url: field(sim, /deltacloud\s+(http:\S+)/),
          username: field(sim, /deltacloud\s+user=(\S+)/),
          password: field(sim, /deltacloud\s+user=\S+ password=(\S+)/),
          driver: field(sim, /driver=(\S+)/),
        }
      : simHeatBackend(sim, {
          ...(strategy === 'webhook' ? { push: { subscriptionUrl: `${field(sim, /zaqar \(v2\)\s+(http:\S+)/)}/queues/heat-events/subscriptions`, token: 'bench-push-token-0123456789' } } : {}),
          ...(strategy === 'webhook-amqp' ? { push: { amqp: { url: amqpUrl, queue: 'heat-gateway.scale', topics: ['notifications.info', 'notifications.error'] } } } : {}),
        });
  return {
    server: { host: '127.0.0.1', port },
    redis: { url: redisUrl, keyPrefix: PREFIX },
    auth: { tokens: [{ name: 'bench', token: TOKEN, role: 'client' }] },
    log: { level: 'warn' },
    backends: [backend],
    strategy: { name: strategy === 'webhook-amqp' ? 'webhook' : strategy },
  };
}

async function getJson(url: string): Promise<{ status: number; body: unknown; ms: number }> {
  const started = performance.now();
  const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = (await res.json()) as unknown;
  return { status: res.status, body, ms: performance.now() - started };
}

async function runOne(size: number, strategy: string) {
  const redisServer = await LocalRedisServer.start();
  const rabbit = strategy === 'webhook-amqp' ? await LocalRabbitMQServer.start() : undefined;
  const redis = new Redis(redisServer.url);
  const dir = mkdtempSync(join(tmpdir(), 'hgw-scale-'));
  let sim: ChildProcess | undefined;
  let gateway: GatewayProcess | undefined;
  try {
    const simStarted = performance.now();
    const started = await startSim(size / PER_STACK, PER_STACK, rabbit?.url ? ['--amqp-url', rabbit.url] : []);
    sim = started.child;
    const simSeconds = (performance.now() - simStarted) / 1_000;
    const port = await freePort();
    const configFile = join(dir, 'config.yaml');
    // JSON is YAML: the file a user would write, key for key.
    writeFileSync(configFile, JSON.stringify(configFor(strategy, started.out, redisServer.url, port, rabbit?.url), null, 2));
    const usedBefore = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);

    const t0 = performance.now();
    gateway = GatewayProcess.start(configFile);
    const deadline = t0 + Number(values['fill-timeout-s']) * 1_000;
    let cached = 0;
    while ((cached = await redis.zcard(`${PREFIX}idx:i`)) < size) {
      if (performance.now() > deadline || gateway.child.exitCode !== null) {
        throw new Error(`${strategy} at ${size}: ${cached} of ${size} cached when giving up\n${gateway.log.slice(-3_000)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const fillSeconds = (performance.now() - t0) / 1_000;
    if (strategy === 'webhook') {
      // The row must be the push strategy's: its subscription with Zaqar was made (201).
      const stats = (await (await fetch(`${field(started.out, /listening on (http:\S+)/)}/_sim/stats`)).json()) as { endpoints: Record<string, { statuses: Record<string, number> }> };
      const made = Object.entries(stats.endpoints).filter(([route]) => /POST .*subscriptions$/.test(route)).some(([, e]) => (e.statuses['201'] ?? 0) > 0);
      if (!made) throw new Error(`webhook at ${size}: the gateway never subscribed with the simulator's Zaqar\n${gateway.log.slice(-3_000)}`);
    }
    // The peak while filling (the listing applied), apart from the peak once reads and the
    // page-through ran too: V8 collects lazily, so the second also counts their garbage.
    const fillPeakRssMiB = Math.round(gateway.peakRssMiB());

    const usedAfter = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
    const ids = await redis.zrange(`${PREFIX}idx:i`, '0', '-1');
    const usage = async (key: string) => Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
    let records = 0;
    const sample = ids.filter((_, i) => i % Math.max(1, Math.floor(ids.length / 1_000)) === 0);
    for (const id of sample) records += await usage(`${PREFIX}i:${id}`);
    let indexes = 0;
    for (const pattern of ['idx:i', 'b:*:i', 's:*', 'd:*:i']) {
      for (const key of await redis.keys(`${PREFIX}${pattern}`)) indexes += await usage(key);
    }
    const feedEvents = await redis.xlen(`${PREFIX}feed`);

    // Reads: 1,000 random ids, 10 in flight.
    const base = `http://127.0.0.1:${port}`;
    const latencies: number[] = [];
    let failed = 0;
    const picks = Array.from({ length: 1_000 }, (_, i) => ids[(i * 7_919) % ids.length]!);
    for (let i = 0; i < picks.length; i += 10) {
      const batch = await Promise.all(picks.slice(i, i + 10).map((id) => getJson(`${base}/v1/instances/${encodeURIComponent(id)}`)));
      for (const r of batch) (r.status === 200 ? latencies.push(r.ms) : failed++);
    }
    latencies.sort((a, b) => a - b);
    const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;

    // Page through everything.
    const p0 = performance.now();
    let paged = 0;
    let cursor: string | null = null;
    do {
      const page = await getJson(`${base}/v1/instances?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      if (page.status !== 200) throw new Error(`page answered ${page.status}: ${JSON.stringify(page.body)}`);
      const body = page.body as { data: unknown[]; next: string | null };
      paged += body.data.length;
      cursor = body.next;
    } while (cursor);
    const pageSeconds = (performance.now() - p0) / 1_000;

    return {
      strategy,
      instances: size,
      stacks: size / PER_STACK,
      simulatorStartSeconds: round(simSeconds),
      fillSeconds: round(fillSeconds),
      gatewayPeakRssMiB: Math.round(gateway.peakRssMiB()),
      gatewayFillPeakRssMiB: fillPeakRssMiB,
      gatewayCpuSecondsToFill: round(gateway.cpuSeconds()),
      redisBytesPerInstance: Math.round(records / sample.length + indexes / size),
      redisRecordBytes: Math.round(records / sample.length),
      redisIndexBytesPerInstance: Math.round(indexes / size),
      redisUsedMemoryDeltaPerInstance: Math.round((usedAfter - usedBefore) / size),
      feedEvents,
      readP50Ms: round(q(0.5)),
      readP99Ms: round(q(0.99)),
      readsFailed: failed,
      pagedInstances: paged,
      pageThroughSeconds: round(pageSeconds),
    };
  } finally {
    await gateway?.stop();
    await stopSim(sim);
    redis.disconnect();
    await redisServer.stop();
    await rabbit?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

const rows = [];
for (const size of sizes) {
  for (const strategy of strategies) {
    console.log(`… ${strategy} at ${size.toLocaleString('en-US')} instances`);
    const row = await runOne(size, strategy);
    console.log(JSON.stringify(row));
    rows.push(row);
  }
}

const header = ['strategy', 'instances', 'fill s', 'peak RSS MiB fill / all', 'Redis B/inst (record+idx)', 'used_memory Δ B/inst', 'read p99 ms', 'page all s'];
const table = rows.map((r) => [
  r.strategy,
  r.instances.toLocaleString('en-US'),
  String(r.fillSeconds),
  `${r.gatewayFillPeakRssMiB} / ${r.gatewayPeakRssMiB}`,
  `${r.redisBytesPerInstance} (${r.redisRecordBytes}+${r.redisIndexBytesPerInstance})`,
  String(r.redisUsedMemoryDeltaPerInstance),
  String(r.readP99Ms),
  String(r.pageThroughSeconds),
]);
printTable(header, table);
const file = writeResult('scale', { bench: 'scale', perStack: PER_STACK, rows }, { publish: values.publish, dir: values.out });
const md = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...table.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const mdFile = file.replace(/\.json$/, '.md');
mkdirSync(join(mdFile, '..'), { recursive: true });
writeFileSync(mdFile, `${md}\n`);
console.log(`written to ${file} and ${mdFile}`);
