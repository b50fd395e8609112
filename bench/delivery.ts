/**
 * Webhook delivery through the real gateway process, next to a raw got POST loop, in the
 * same run.
 *
 *   npx tsx bench/delivery.ts [--events 5000] [--concurrency 50] [--rate 500] [--warmup 2] [--seconds 10] [--rounds 2] [--out DIR] [--publish]
 *
 * - Receivers run in a child process (this file with --receiver): they answer 204 and note
 *   each receipt's time (performance.timeOrigin + performance.now(), one clock for every
 *   process on the machine).
 * - The gateway is `heat-gateway start --config <file>` (default modules; the config has a
 *   client token, `webhooks.allowNetworks: [127.0.0.0/8]` and `webhooks.concurrency`). The
 *   benchmark plays the strategy: it appends events to the gateway's change feed through
 *   the store (src/store/change-feed.ts) on its own Redis connection.
 * 1. Raw: a got POST loop (keep-alive, `concurrency` in flight) from this process to the
 *    receiver child — the ceiling of got + the receiver on this machine.
 * 2. Peak: `events` feed events to one endpoint; deliveries/s from the first append to the
 *    last receipt. Target ≥ 1.0× raw. Like the got loop, which runs 1,000 requests before its
 *    first round, each fresh gateway first delivers 1,000 events untimed (its warm-up: the
 *    connections it opens and the code paths V8 compiles); that warm-up's rate is reported apart.
 * 3. Latency: `rate` events/s for `warmup` + `seconds` to 2 endpoints, on a fresh gateway;
 *    feed append → receipt of the events after the warm-up (the first of a fresh process open
 *    connections and compile their code paths; reported apart). Target p99 < 10 ms, over the
 *    deliveries of every round together (each round's p99 is shown too). Every delivery must
 *    arrive (at least once; duplicates are counted).
 * 4. Latency baseline: the same schedule through a bare relay (this file with --relay, a child
 *    process like the gateway): one XREAD BLOCK loop POSTing each entry's event to both
 *    receivers on keep-alive connections, with no record, signature or acknowledgement. It is
 *    the floor every feed → webhook path pays on this machine in this run (the wake-ups of
 *    Redis, a relay and the receiver on shared cores), not a rival: it gives up every
 *    guarantee the gateway keeps.
 * Each round runs raw, peak, latency and the relay in turn; the rates' medians are reported. Also
 * reported: CPU per request of the got loop (this process) and of the gateway per delivery at
 * peak (/proc, user + system), which the machine's load disturbs far less than the
 * wall-clock rates, and Redis's per delivery at peak (INFO cpu; the feed appends included),
 * with the commands it ran per delivery and the µs each took (INFO commandstats); and over
 * each latency schedule, the CPU per delivery of the gateway (and of the relay) and of Redis.
 * Results: bench/results/scratch/delivery.json (`--out DIR`: DIR/; bench/results/ with --publish).
 * Uses REDIS_URL when set, otherwise a private redis-server.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import got from 'got';
import { Redis } from 'ioredis';
import { GatewayProcess, processCounters } from '../src/bench/gateway-process.js';
import { freePort, LocalRedisServer } from '../src/redis/local-redis-server.js';
import { ChangeFeed, toEntry } from '../src/store/change-feed.js';
import { deletePrefix } from '../src/store/delete-prefix.js';
import { waitHttp } from './read-setup.js';
import { CommandCounter, loadAverage, printTable, redisCpuSeconds, writeResult } from './report.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '50' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '2' },
    out: { type: 'string' },
    publish: { type: 'boolean', default: false },
    receiver: { type: 'boolean', default: false },
    relay: { type: 'string' },
  },
});
const TOKEN = 'bench-client-token-0123456789';
/** The benchmark's feeds (the gateway's and the relay's): retention far beyond a run. */
const FEED_LIMITS = { maxLength: 1_000_000, maxAgeMs: 86_400_000 };
const clock = () => performance.timeOrigin + performance.now();
/** Requests the got loop makes before its first round, and deliveries each fresh gateway makes before its peak is timed. */
const PEAK_WARMUP = 1_000;

// ------------------------------------------------------------------ child: the receivers

async function serveReceivers(): Promise<void> {
  let receipts: { path: string; seq: number; id: string; at: number }[] = [];
  let count = 0;
  let lastAt = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = clock();
      // The count is polled while deliveries arrive: cheap, so the polling does not hold up
      // the receipts it waits for (serializing every receipt took the receiver 10-20 ms).
      if (req.url === '/__count') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count, lastAt }));
        return;
      }
      if (req.url === '/__receipts') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count, lastAt, receipts }));
        return;
      }
      if (req.url === '/__reset') {
        receipts = [];
        count = 0;
        lastAt = 0;
        res.writeHead(204).end();
        return;
      }
      count++;
      lastAt = at;
      if (req.url !== '/raw' && req.url !== '/peak') {
        const seq = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: { current: { version: number } } }).data.current.version;
        receipts.push({ path: req.url ?? '', seq, id: String(req.headers['webhook-id'] ?? ''), at });
      }
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  process.stdout.write(`${(server.address() as { port: number }).port}\n`);
}

// ------------------------------------------------------------------ child: the bare relay

/** The latency baseline (step 4): reads the fresh feed `feedKey` from its start and POSTs each entry's event to `urls`. */
async function serveRelay({ redisUrl, feedKey, urls }: { redisUrl: string; feedKey: string; urls: string[] }): Promise<void> {
  const redis = new Redis(redisUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const post = (url: URL, body: string) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
    req.on('response', (res) => res.resume());
    req.on('error', (err) => console.error(`relay: ${err.message}`));
    req.end(body);
  };
  const targets = urls.map((url) => new URL(url));
  let last = '0';
  process.stdout.write('ready\n');
  for (;;) {
    const reply = (await redis.xread('COUNT', 200, 'BLOCK', 1_000, 'STREAMS', feedKey, last)) as [string, [string, string[]][]][] | null;
    for (const [id, fields] of reply?.[0]?.[1] ?? []) {
      last = id;
      // The event as the feed holds it ({id, type, occurredAt, data}), read as the gateway reads it.
      const body = toEntry(id, fields).json;
      for (const target of targets) post(target, body);
    }
  }
}

// ------------------------------------------------------------------ parent

const sampleData = { id: 'srv-1', deploymentId: 'stack-1', current: { id: 'srv-1', version: 1, state: 'running', pad: 'x'.repeat(300) }, previous: null };
const sampleBody = JSON.stringify({ type: 'instance.updated', timestamp: new Date().toISOString(), data: sampleData });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const events = Number(values.events);
  const concurrency = Number(values.concurrency);
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const warmup = Number(values.warmup);
  const rounds = Number(values.rounds);
  const loadBefore = loadAverage();

  const local = process.env.REDIS_URL ? undefined : await LocalRedisServer.start();
  const redisUrl = process.env.REDIS_URL ?? local!.url;
  const redis = new Redis(redisUrl);
  const dir = mkdtempSync(join(tmpdir(), 'hgw-bench-delivery-'));

  const receiverChild = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--receiver'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [portLine] = (await once(receiverChild.stdout!, 'data')) as [Buffer];
  const receiverUrl = `http://127.0.0.1:${portLine.toString().trim()}`;
  const receipts = async () => (await got(`${receiverUrl}/__receipts`).json()) as { count: number; lastAt: number; receipts: { path: string; seq: number; id: string; at: number }[] };
  const reset = () => got.post(`${receiverUrl}/__reset`);

  let gateway: GatewayProcess | undefined;
  const startGateway = async (prefix: string) => {
    const port = await freePort();
    const configFile = join(dir, `${prefix.replace(/\W/g, '')}.yaml`);
    writeFileSync(
      configFile,
      JSON.stringify({
        server: { host: '127.0.0.1', port },
        redis: { url: redisUrl, keyPrefix: prefix },
        auth: { tokens: [{ name: 'bench', token: TOKEN, role: 'client' }] },
        webhooks: { allowNetworks: ['127.0.0.0/8'], concurrency },
        log: { level: 'warn', format: 'json' },
      }),
    );
    await deletePrefix(redis, prefix);
    const started = GatewayProcess.start(configFile, { NODE_ENV: 'production' });
    gateway = started;
    const url = `http://127.0.0.1:${port}`;
    await waitHttp(`${url}/readyz`, started.child, () => started.log);
    return { url, feed: new ChangeFeed(redis, prefix, FEED_LIMITS) };
  };
  const stopGateway = async (prefix: string) => {
    await gateway?.stop();
    gateway = undefined;
    await deletePrefix(redis, prefix);
  };
  const register = async (url: string, path: string) => {
    const res = await fetch(`${url}/v1/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: `${receiverUrl}${path}` }),
    });
    if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`);
  };
  const waitCount = async (n: number, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = (await got(`${receiverUrl}/__count`).json()) as { count: number; lastAt: number };
      if (r.count >= n || Date.now() > deadline) return r;
      await new Promise((res) => setTimeout(res, 50));
    }
  };

  // 1. raw got loop; also this process's CPU per request (user + system)
  const rawCpuMsPerRequest: number[] = [];
  const rawLoop = async (n: number) => {
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency * 2 });
    const client = got.extend({ agent: { http: agent }, retry: { limit: 0 }, followRedirect: false, throwHttpErrors: false });
    let next = 0;
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < n) {
          next++;
          await client.post(`${receiverUrl}/raw`, { body: sampleBody, headers: { 'content-type': 'application/json' } });
        }
      }),
    );
    const perSecond = n / ((performance.now() - started) / 1_000);
    const cpu = process.cpuUsage(cpu0);
    rawCpuMsPerRequest.push((cpu.user + cpu.system) / 1_000 / n);
    agent.destroy();
    return perSecond;
  };

  // 2. peak through the gateway; also the gateway's CPU per delivery (user + system, /proc)
  const cpuMsPerDelivery: number[] = [];
  // Redis's too (INFO cpu, user + sys), the benchmark's feed appends included.
  const redisCpuMsPerDelivery: number[] = [];
  const redisCpu = () => redisCpuSeconds(redis);
  // Redis's commands per delivery at peak (the benchmark's feed appends included).
  const commands = new CommandCounter(redis);
  // Deliveries/s of each fresh gateway's untimed warm-up.
  const coldPerSecond: number[] = [];
  const peakRun = async (round: number) => {
    const prefix = `{benchwh-peak-${round}}:`;
    const { url, feed } = await startGateway(prefix);
    // `n` events appended as fast as Redis takes them, 500 at a time, then delivered;
    // deliveries/s from the first append to the last receipt.
    const deliver = async (n: number, from: number) => {
      await reset();
      const started = clock();
      for (let i = from; i < from + n; i += 500) {
        const batch: Promise<unknown>[] = [];
        for (let j = i; j < Math.min(from + n, i + 500); j++) {
          batch.push(feed.append('instance.updated', { ...sampleData, current: { ...sampleData.current, version: j } }, { subject: `srv-${j % 50}`, deploymentId: 'stack-1' }));
        }
        await Promise.all(batch);
      }
      const r = await waitCount(n, 120_000);
      if (r.count < n) throw new Error(`peak: ${r.count} of ${n} deliveries arrived`);
      return n / ((r.lastAt - started) / 1_000);
    };
    try {
      await register(url, '/peak');
      coldPerSecond.push(await deliver(PEAK_WARMUP, 0));
      const cpu0 = gateway!.cpuSeconds();
      const redis0 = await redisCpu();
      await commands.start();
      const perSecond = await deliver(events, PEAK_WARMUP);
      cpuMsPerDelivery.push(((gateway!.cpuSeconds() - cpu0) * 1_000) / events);
      redisCpuMsPerDelivery.push((((await redisCpu()) - redis0) * 1_000) / events);
      await commands.stop();
      return perSecond;
    } finally {
      await stopGateway(prefix);
    }
  };

  // 3. latency at a fixed rate, 2 endpoints, on a fresh gateway each round
  /** `cpuMs`: CPU per delivery over the whole schedule, of the sender (gateway or relay) and of Redis. */
  type LatencyRound = { latencies: number[]; warmLatencies: number[]; duplicates: number; missing: number; cpuMs: { sender: number; redis: number } };
  const warm = rate * warmup;
  const total = warm + rate * seconds;
  /** Appends the schedule's events (the warm-up's first, at the same rate); answers when each was appended. */
  const offer = async (feed: ChangeFeed) => {
    const sentAt = new Map<number, number>();
    const tickMs = 10;
    const perTick = (rate * tickMs) / 1_000;
    let seq = 0;
    const start = performance.now();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        // Catch up to the schedule so the offered rate stays fixed even if a tick is late.
        const due = Math.min(total, Math.floor(((performance.now() - start) / tickMs + 1) * perTick));
        while (seq < due) {
          const n = ++seq;
          sentAt.set(n, clock());
          void feed.append('instance.updated', { ...sampleData, id: `srv-${n % 50}`, current: { ...sampleData.current, id: `srv-${n % 50}`, version: n } }, { subject: `srv-${n % 50}`, deploymentId: 'stack-1' });
        }
        if (seq >= total) {
          clearInterval(timer);
          resolve();
        }
      }, tickMs);
    });
    return sentAt;
  };
  /** Waits for the schedule's receipts at both endpoints; append → receipt of each, the warm-up's apart. */
  const collect = async (sentAt: Map<number, number>): Promise<Omit<LatencyRound, 'cpuMs'>> => {
    await waitCount(total * 2, 120_000);
    const r = await receipts();
    const seen = new Set<string>();
    const result: Omit<LatencyRound, 'cpuMs'> = { latencies: [], warmLatencies: [], duplicates: 0, missing: 0 };
    for (const receipt of r.receipts) {
      const key = `${receipt.path}:${receipt.seq}`;
      if (seen.has(key)) {
        result.duplicates++;
        continue;
      }
      seen.add(key);
      (receipt.seq <= warm ? result.warmLatencies : result.latencies).push(receipt.at - sentAt.get(receipt.seq)!);
    }
    result.missing = total * 2 - seen.size;
    return result;
  };
  /** `collect(offer(feed))`, with the CPU `sender` and Redis spent on it per delivery. */
  const timed = async (feed: ChangeFeed, sender: () => number): Promise<LatencyRound> => {
    const [sender0, redis0] = [sender(), await redisCpu()];
    const round = await collect(await offer(feed));
    const perDelivery = (seconds: number) => Number(((seconds * 1_000) / (total * 2)).toFixed(3));
    return { ...round, cpuMs: { sender: perDelivery(sender() - sender0), redis: perDelivery((await redisCpu()) - redis0) } };
  };
  const latencyRun = async (round: number): Promise<LatencyRound> => {
    const prefix = `{benchwh-lat-${round}}:`;
    const { url, feed } = await startGateway(prefix);
    try {
      await register(url, '/a');
      await register(url, '/b');
      await reset();
      return await timed(feed, () => gateway!.cpuSeconds());
    } finally {
      await stopGateway(prefix);
    }
  };

  // 4. the same schedule through the bare relay (the latency baseline)
  const relayRun = async (round: number): Promise<LatencyRound> => {
    const prefix = `{benchwh-relay-${round}}:`;
    await deletePrefix(redis, prefix);
    const feed = new ChangeFeed(redis, prefix, FEED_LIMITS);
    const spec = { redisUrl, feedKey: feed.keys.feed, urls: [`${receiverUrl}/relay-a`, `${receiverUrl}/relay-b`] };
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--relay', JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const exited = once(child, 'exit').then(([code]) => {
        throw new Error(`the relay exited (${String(code)}) before it was ready`);
      });
      await Promise.race([once(child.stdout!, 'data'), exited]);
      exited.catch(() => undefined); // killed below
      await reset();
      return await timed(feed, () => processCounters(child.pid).cpuSeconds);
    } finally {
      child.kill('SIGTERM');
      await deletePrefix(redis, prefix);
    }
  };
  const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

  try {
    await rawLoop(PEAK_WARMUP); // warm-up
    const raws: number[] = [];
    const peaks: number[] = [];
    const windows: LatencyRound[] = [];
    const relayWindows: LatencyRound[] = [];
    const loads: string[] = [];
    for (let round = 0; round < rounds; round++) {
      raws.push(await rawLoop(events));
      peaks.push(await peakRun(round));
      windows.push(await latencyRun(round));
      relayWindows.push(await relayRun(round));
      loads.push(loadAverage());
    }
    // Every round's deliveries after its warm-up, together: the p99 of one 10 s window rests
    // on its ~100 slowest deliveries, a handful of stalls, and swings from run to run.
    const summarize = (measured: LatencyRound[]) => {
      const all = sorted(measured.flatMap((w) => w.latencies));
      const warmAll = sorted(measured.flatMap((w) => w.warmLatencies));
      return {
        p50: pct(all, 50),
        p95: pct(all, 95),
        p99: pct(all, 99),
        max: all.at(-1) ?? Number.NaN,
        p99PerRound: measured.map((w) => Number(pct(sorted(w.latencies), 99).toFixed(1))),
        deliveries: all.length,
        warmupP99: pct(warmAll, 99),
        warmupMax: warmAll.at(-1) ?? Number.NaN,
        duplicates: measured.reduce((n, w) => n + w.duplicates, 0),
        missing: measured.reduce((n, w) => n + w.missing, 0),
        cpuMsPerDelivery: { sender: median(measured.map((w) => w.cpuMs.sender)), redis: median(measured.map((w) => w.cpuMs.redis)) },
      };
    };
    const latency = summarize(windows);
    const relayLatency = summarize(relayWindows);

    const raw = median(raws);
    const peak = median(peaks);
    const commandsPerDelivery = commands.perUnit(events * rounds, 'calls', 3);
    const commandUsPerDelivery = commands.perUnit(events * rounds, 'usec', 2);
    const listed = (perDelivery: Record<string, number>, min: number) =>
      Object.entries(perDelivery).filter(([, n]) => n >= min).map(([c, n]) => `${c} ${n}`).join(', ');
    const ratio = peak / raw;
    const ms = (v: number) => v.toFixed(1);
    printTable(
      ['measure', 'value', 'target'],
      [
        ['raw got POST loop (req/s, median)', raw.toFixed(0), ''],
        ['heat-gateway start: signed deliveries/s (median)', peak.toFixed(0), `≥ ${raw.toFixed(0)} (1.0× raw)`],
        ['ratio', `${ratio.toFixed(2)} (rounds ${peaks.map((p, i) => (p / raws[i]!).toFixed(2)).join(' ')})`, `≥ 1.00: ${ratio >= 1 ? 'met' : 'NOT met'}`],
        [`fresh gateway's first ${PEAK_WARMUP} deliveries (untimed warm-up), deliveries/s (median)`, median(coldPerSecond).toFixed(0), ''],
        ['CPU per request: got loop / gateway per delivery (ms, median)', `${median(rawCpuMsPerRequest.slice(1)).toFixed(3)} / ${median(cpuMsPerDelivery).toFixed(3)}`, ''],
        ['Redis CPU per delivery at peak, feed append included (ms, median)', median(redisCpuMsPerDelivery).toFixed(3), ''],
        ['Redis commands per delivery at peak (≥ 0.05; a script\'s commands also count on their own)', listed(commandsPerDelivery, 0.05), ''],
        ['Redis µs per delivery at peak by command (commandstats; EVALSHA includes its script\'s)', listed(commandUsPerDelivery, 0.5), ''],
        [`latency p50 @ ${rate}/s × 2 endpoints, ${latency.deliveries} deliveries of ${rounds} × ${seconds} s (ms)`, ms(latency.p50), ''],
        ['latency p95 (ms)', ms(latency.p95), ''],
        ['latency p99 (ms)', `${ms(latency.p99)} (rounds ${latency.p99PerRound.map(ms).join(' ')})`, `< 10: ${latency.p99 < 10 ? 'met' : 'NOT met'}`],
        ['latency max (ms)', ms(latency.max), ''],
        [`warm-up (first ${warmup} s, not in the above): p99 / max (ms)`, `${ms(latency.warmupP99)} / ${ms(latency.warmupMax)}`, ''],
        ['deliveries not received within 120 s / duplicated', `${latency.missing} / ${latency.duplicates}`, '0 / 0'],
        [
          'baseline, same schedule: bare relay (XREAD → POST; no record, signature or ack) p50 / p95 / p99 / max (ms)',
          `${ms(relayLatency.p50)} / ${ms(relayLatency.p95)} / ${ms(relayLatency.p99)} (rounds ${relayLatency.p99PerRound.map(ms).join(' ')}) / ${ms(relayLatency.max)}`,
          '',
        ],
        ['gateway p99 over the bare relay\'s', `${(latency.p99 / relayLatency.p99).toFixed(2)}×`, ''],
        [
          `CPU per delivery at ${rate}/s, feed appends included (ms, median): gateway + Redis / bare relay + Redis`,
          `${latency.cpuMsPerDelivery.sender.toFixed(3)} + ${latency.cpuMsPerDelivery.redis.toFixed(3)} / ${relayLatency.cpuMsPerDelivery.sender.toFixed(3)} + ${relayLatency.cpuMsPerDelivery.redis.toFixed(3)}`,
          '',
        ],
      ],
    );
    console.log(`load average before: ${loadBefore}; per round: ${loads.join(' | ')}; after: ${loadAverage()}`);
    const file = writeResult(
      'delivery',
      {
        bench: 'delivery',
        layout: '`heat-gateway start --config` (default modules) in a child; receivers in another child; got loop and feed appends in the parent; one Redis',
        params: { events, concurrency, rate, warmup, seconds, rounds },
        rawPerSecond: raws.map(Math.round),
        peakPerSecond: peaks.map(Math.round),
        peakWarmupDeliveries: PEAK_WARMUP,
        peakWarmupPerSecond: coldPerSecond.map(Math.round),
        ratio: Number(ratio.toFixed(3)),
        rawCpuMsPerRequest: rawCpuMsPerRequest.slice(1).map((c) => Number(c.toFixed(3))),
        gatewayCpuMsPerDelivery: cpuMsPerDelivery.map((c) => Number(c.toFixed(3))),
        redisCpuMsPerDelivery: redisCpuMsPerDelivery.map((c) => Number(c.toFixed(3))),
        redisCommandsPerDelivery: commandsPerDelivery,
        redisCommandUsPerDelivery: commandUsPerDelivery,
        latencyMs: latency,
        relayLatencyMs: relayLatency,
        targets: { ratio: 1.0, p99Ms: 10 },
        meetsTargets: { ratio: ratio >= 1, p99: latency.p99 < 10 },
        loadAverageBefore: loadBefore,
        loadAveragePerRound: loads,
      },
      { publish: values.publish, dir: values.out },
    );
    console.log(`wrote ${file}`);
  } finally {
    await gateway?.stop();
    receiverChild.kill('SIGTERM');
    redis.disconnect();
    await local?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.receiver) await serveReceivers();
else if (values.relay) await serveRelay(JSON.parse(values.relay) as Parameters<typeof serveRelay>[0]);
else await main();
