/**
 * Webhook delivery throughput and latency.
 *
 *   npx tsx bench/delivery.ts [--events 5000] [--concurrency 50] [--rate 500] [--seconds 10]
 *
 * 1. Raw: a got POST loop (keep-alive, `concurrency` in flight) to a local receiver — the
 *    ceiling of this machine's HTTP client + receiver.
 * 2. Peak: `events` feed events fanned out to one endpoint, signed and delivered through the
 *    queue; deliveries/s from the first append to the last receipt. Target ≥ 0.5× raw.
 * 3. Latency: `rate` events/s for `seconds` to 2 endpoints; feed append → receipt.
 *    Target p99 < 50 ms.
 * Uses REDIS_URL when set, otherwise spawns a private redis-server.
 */
import { createServer, Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import got from 'got';
import { Redis } from 'ioredis';
import { parseConfig } from '../src/config/load.js';
import { Gateway } from '../src/gateway.js';
import { silentLogger } from '../src/log/logger.js';
import { LocalRedisServer } from '../src/redis/local-redis-server.js';
import { createWebhookModule, type WebhookModule } from '../src/webhooks/create-webhook-module.js';
import { printTable, writeResult } from './report.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '50' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
  },
});
const events = Number(values.events);
const concurrency = Number(values.concurrency);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const TOKEN = 'bench-client-token-0123456789';

const local = process.env.REDIS_URL ? undefined : await LocalRedisServer.start();
const redisUrl = process.env.REDIS_URL ?? local!.url;

// ------------------------------------------------------------------ receiver
let onReceive: (path: string, body: string, at: number) => void = () => undefined;
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    onReceive(req.url ?? '/', Buffer.concat(chunks).toString('utf8'), performance.now());
    res.writeHead(204).end();
  });
});
receiver.keepAliveTimeout = 65_000;
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

const sampleBody = JSON.stringify({
  type: 'instance.updated',
  timestamp: new Date().toISOString(),
  data: { id: 'srv-1', deploymentId: 'stack-1', cursor: '1-0', current: { id: 'srv-1', version: 1, state: 'running', pad: 'x'.repeat(300) }, previous: null },
});

// ------------------------------------------------------------------ 1. raw got loop
async function rawLoop(n: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency * 2 });
  const client = got.extend({ agent: { http: agent }, retry: { limit: 0 }, followRedirect: false, throwHttpErrors: false });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next++;
        await client.post(receiverUrl, { body: sampleBody, headers: { 'content-type': 'application/json' } });
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1_000;
  agent.destroy();
  return n / elapsed;
}
await rawLoop(1_000); // warm-up
const rawPerSecond = await rawLoop(events);

// ------------------------------------------------------------------ gateway with the module
async function startGateway(prefix: string): Promise<{ gateway: Gateway; module: WebhookModule; url: string }> {
  const config = parseConfig({
    server: { port: 0 },
    redis: { url: redisUrl, keyPrefix: prefix },
    auth: { tokens: [{ name: 'bench', token: TOKEN, role: 'client' }] },
    webhooks: { allowNetworks: ['127.0.0.0/8'], concurrency },
    log: { level: 'error' },
  });
  let module!: WebhookModule;
  const gateway = new Gateway({ config, logger: silentLogger(), modules: [(gw) => (module = createWebhookModule(gw))] });
  const url = await gateway.start();
  return { gateway, module, url };
}

async function register(url: string, path: string): Promise<void> {
  const res = await fetch(`${url}/v1/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: `${receiverUrl}${path}` }),
  });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`);
}

async function clean(prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix.replace(/[{}]/g, '\\$&')}*`, 'COUNT', 1_000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  await redis.quit();
}

// ------------------------------------------------------------------ 2. peak signed deliveries/s
const peakPrefix = '{benchwh1}:';
await clean(peakPrefix);
const peak = await startGateway(peakPrefix);
await register(peak.url, '/peak');
let received = 0;
let lastAt = 0;
onReceive = (_p, _b, at) => {
  received++;
  lastAt = at;
};
// The benchmark plays the store here: it appends events straight to the feed stream, as fast as Redis takes them.
const benchRedis = new Redis(redisUrl);
const peakStart = performance.now();
for (let i = 0; i < events; i += 500) {
  const pipeline = benchRedis.pipeline();
  for (let j = i; j < Math.min(events, i + 500); j++) {
    pipeline.xadd(peak.gateway.feed.keys.feed, '*', 'e', JSON.stringify({ id: `evt_${j.toString(16).padStart(32, '0')}`, type: 'instance.updated', occurredAt: new Date().toISOString(), data: JSON.parse(sampleBody).data }), 't', 'instance.updated', 'k', `srv-${j % 50}`, 'g', 'stack-1');
  }
  await pipeline.exec();
}
while (received < events) await new Promise((r) => setTimeout(r, 20));
const peakPerSecond = events / ((lastAt - peakStart) / 1_000);
await benchRedis.quit();
await peak.gateway.stop();
await clean(peakPrefix);

// ------------------------------------------------------------------ 3. latency at a fixed rate
const latPrefix = '{benchwh2}:';
await clean(latPrefix);
const lat = await startGateway(latPrefix);
await register(lat.url, '/a');
await register(lat.url, '/b');
const sentAt = new Map<number, number>();
const latencies: number[] = [];
onReceive = (_p, body, at) => {
  const seq = (JSON.parse(body) as { data: { current: { version: number } } }).data.current.version;
  latencies.push(at - sentAt.get(seq)!);
};
const total = rate * seconds;
const tickMs = 10;
const perTick = (rate * tickMs) / 1_000;
let seq = 0;
const latStart = performance.now();
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    // Catch up to the schedule so the offered rate stays fixed even if a tick is late.
    const due = Math.min(total, Math.floor(((performance.now() - latStart) / tickMs + 1) * perTick));
    while (seq < due) {
      const n = ++seq;
      sentAt.set(n, performance.now());
      void lat.gateway.feed.append('instance.updated', { current: { id: `srv-${n % 50}`, version: n }, previous: null }, { subject: `srv-${n % 50}`, deploymentId: 'stack-1' });
    }
    if (seq >= total) {
      clearInterval(timer);
      resolve();
    }
  }, tickMs);
});
const deadline = Date.now() + 30_000;
while (latencies.length < total * 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
await lat.gateway.stop();
await clean(latPrefix);

latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
const ms = (v: number) => v.toFixed(1);

printTable(
  ['measure', 'value', 'target'],
  [
    ['raw got POST loop (req/s)', rawPerSecond.toFixed(0), ''],
    ['signed deliveries via queue (deliveries/s)', peakPerSecond.toFixed(0), `≥ ${(rawPerSecond / 2).toFixed(0)} (0.5× raw)`],
    ['ratio', (peakPerSecond / rawPerSecond).toFixed(2), '≥ 0.50'],
    [`latency p50 @ ${rate}/s × 2 endpoints (ms)`, ms(pct(50)), ''],
    ['latency p95 (ms)', ms(pct(95)), ''],
    ['latency p99 (ms)', ms(pct(99)), '< 50'],
    ['latency max (ms)', ms(latencies.at(-1) ?? NaN), ''],
    ['deliveries received / expected', `${latencies.length} / ${total * 2}`, 'equal'],
  ],
);
const file = writeResult('delivery', {
  params: { events, concurrency, rate, seconds },
  rawPerSecond: Math.round(rawPerSecond),
  peakPerSecond: Math.round(peakPerSecond),
  ratio: Number((peakPerSecond / rawPerSecond).toFixed(3)),
  latencyMs: { p50: pct(50), p95: pct(95), p99: pct(99), max: latencies.at(-1) ?? null, count: latencies.length, expected: total * 2 },
});
console.log(`wrote ${file}`);
receiver.close();
receiver.closeAllConnections();
await local?.stop();
process.exit(0);
