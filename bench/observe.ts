/**
 * Observe through the real gateway: `heat-gateway start` (a child, the config a user writes)
 * under `webhook` for a Heat backend, its cache filled by the strategy's own resync from the
 * simulator (`heat-gateway sim`, another child), then Nova notifications POSTed to
 * `/v1/notifications/heat-1` as lists, several requests in flight, each changing one server's
 * state. Next to it, in the same run against the same Redis: a pipelined `HSET` of the same
 * documents (what bench/store.ts calls its baseline).
 *
 *   npm run bench:observe -- [--instances 10000] [--per-request 500] [--concurrency 4]
 *                            [--rounds 9] [--format legacy|versioned] [--feed-max-length N]
 *                            [--feed full|growing] [--redis-callgrind] [--out DIR] [--publish]
 *
 * - Notifications are the real formats the ingest parses: legacy `compute.instance.update`
 *   (test/fixtures/push/compute-instance-update.json's shape: `state`, `new_task_state`,
 *   `fixed_ips` with the server's addresses, Heat's `heat-stack-id` metadata) or versioned
 *   `instance.update` (test/fixtures/notifications/nova-instance-update.json), each with
 *   oslo's `timestamp`. A round sends one per server, alternating `active` and `stopped`, so
 *   every notification is a change; the bodies are serialized before the clock starts.
 * - A 202 means stored. Per round the benchmark checks that every request answered 202, that
 *   the feed got exactly one event per server (XINFO STREAM's entries-added, which trimming
 *   does not lower), that the newest event is a state
 *   change, and that every record holds the round's state.
 * - Rate: servers / (first request sent → last 202), median of rounds. CPU per change:
 *   Redis's (INFO cpu delta), the gateway's (/proc/<pid>/stat delta) and this process's
 *   (sending), summed over the timed rounds; Redis commands per change from INFO
 *   commandstats. Rounds alternate the baseline and the gateway, so both see the same load.
 * - A warm-up round (not timed) runs first; the gateway's resync runs once at start
 *   (`resyncIntervalMs` is a day, so no resync overlaps the rounds).
 * - `--feed full` (the default): more untimed rounds first fill the feed to the gateway's
 *   retention (`feed.maxLength`, 1,000,000 unless `--feed-max-length`), where a gateway that
 *   has run for a while sits: at 50,000 changes/s the default retention fills in 20 s. Each
 *   timed change's append then trims an old entry, and Redis reuses that memory. `--feed
 *   growing` times the rounds on a feed that is still filling, where every append takes fresh
 *   memory from the kernel (page faults, ~3–4 µs per change on this machine).
 *
 * - `--redis-callgrind` runs the private redis-server under callgrind (bench/callgrind.ts),
 *   counted only during the timed rounds, and reports the instructions Redis executed per
 *   change: a figure that is the same on every run of the same code, where the rate and CPU
 *   times on this VM's shared cores are not. The rates of such a run mean nothing (valgrind
 *   slows Redis ~50× while counting) and are not judged; fill rounds run uncounted but still
 *   several times slower, so pair it with a small `--feed-max-length` (20000).
 *
 * Uses REDIS_URL when set, otherwise a private redis-server. Results go to
 * bench/results/scratch/observe.json (`--out DIR`: DIR/observe.json; `--publish`: bench/results/).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { GatewayProcess, processCounters } from '../src/bench/gateway-process.js';
import { feedSchema } from '../src/config/schema.js';
import type { Instance } from '../src/model/types.js';
import { freePort, LocalRedisServer } from '../src/redis/local-redis-server.js';
import { deletePrefix } from '../src/store/delete-prefix.js';
import { FeedConsumerGroup } from '../src/store/feed-consumer-group.js';
import { CONSUMER_GROUP } from '../src/webhooks/feed-fanout.js';
import { startCallgrindRedis, type CallgrindRedis } from './callgrind.js';
import { waitHttp } from './read-setup.js';
import { CommandCounter, loadAverage, pageFaultMicros, printTable, redisCpuSeconds, writeResult } from './report.js';
import { simHeatBackend, startSim, stopSim } from './sim-child.js';

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '10000' },
    'per-request': { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '9' },
    format: { type: 'string', default: 'legacy' },
    // The gateway's feed.maxLength (its default, 1,000,000, when absent): how much --feed full fills.
    'feed-max-length': { type: 'string' },
    feed: { type: 'string', default: 'full' },
    'redis-callgrind': { type: 'boolean', default: false },
    out: { type: 'string' },
    publish: { type: 'boolean', default: false },
  },
});
const instances = Number(values.instances);
const perRequest = Number(values['per-request']);
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);
const format = values.format;
const feedMaxLength = values['feed-max-length'] === undefined ? undefined : Number(values['feed-max-length']);
if (format !== 'legacy' && format !== 'versioned') throw new Error(`--format ${format}: use legacy or versioned`);
const feedStart = values.feed;
if (feedStart !== 'full' && feedStart !== 'growing') throw new Error(`--feed ${feedStart}: use full or growing`);
const underCallgrind = values['redis-callgrind'];
if (underCallgrind && process.env.REDIS_URL) throw new Error('--redis-callgrind starts its own redis-server: unset REDIS_URL');
/** The gateway's feed retention in this run: the flag, or the config's default. */
const retention = feedMaxLength ?? feedSchema.parse({}).maxLength;
const PER_STACK = 5;
const PREFIX = '{benchobs}:';
const PUSH_TOKEN = 'bench-push-token-0123456789abcdef';
const CLIENT_TOKEN = 'bench-client-token-0123456789abcdef';

const LEGACY = JSON.parse(readFileSync('test/fixtures/push/compute-instance-update.json', 'utf8')) as Record<string, unknown>;
const VERSIONED = JSON.parse(readFileSync('test/fixtures/notifications/nova-instance-update.json', 'utf8')) as Record<string, unknown>;

/** oslo's `timestamp`: str(datetime.utcnow()), naive UTC with microseconds. */
const osloTime = (ms: number) => `${new Date(ms).toISOString().replace('T', ' ').replace('Z', '')}000`;

/** What Nova would send about `server` moving to `vmState` at `atMs`, in the chosen format. */
function notification(server: Instance, vmState: 'active' | 'stopped', atMs: number, n: number): unknown {
  const metadata = { 'heat-stack-id': server.deploymentId, 'heat-resource': server.name };
  if (format === 'legacy') {
    const [first, ...rest] = server.addresses.private;
    const fixedIps = [
      ...(first ? [{ address: first, label: 'private', type: 'fixed', version: 4, floating_ips: server.addresses.public.map((address) => ({ address })) }] : []),
      ...rest.map((address) => ({ address, label: 'private', type: 'fixed', version: 4, floating_ips: [] })),
    ];
    return {
      ...LEGACY,
      message_id: `bench-${n}`,
      timestamp: osloTime(atMs),
      payload: {
        ...(LEGACY.payload as object),
        instance_id: server.id,
        display_name: server.name,
        state: vmState,
        old_state: vmState === 'active' ? 'stopped' : 'active',
        new_task_state: null,
        metadata,
        fixed_ips: fixedIps,
      },
    };
  }
  const payload = VERSIONED.payload as { 'nova_object.data': Record<string, unknown> };
  return {
    ...VERSIONED,
    message_id: `bench-${n}`,
    timestamp: osloTime(atMs),
    payload: {
      ...payload,
      'nova_object.data': {
        ...payload['nova_object.data'],
        uuid: server.id,
        display_name: server.name,
        state: vmState,
        task_state: null,
        power_state: vmState === 'active' ? 'running' : 'shutdown',
        metadata,
        ip_addresses: server.addresses.private.map((address) => ({
          'nova_object.name': 'IpPayload',
          'nova_object.namespace': 'nova',
          'nova_object.version': '1.0',
          'nova_object.data': { address, label: 'private', version: 4, mac: '00:00:00:00:00:00', meta: {}, port_uuid: null, device_name: null },
        })),
      },
    },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const loadBefore = loadAverage();
  const dir = mkdtempSync(join(tmpdir(), 'hgw-bench-observe-'));
  const counted: CallgrindRedis | undefined = underCallgrind ? await startCallgrindRedis(dir) : undefined;
  const local = process.env.REDIS_URL ? undefined : (counted?.server ?? (await LocalRedisServer.start()));
  const redisUrl = process.env.REDIS_URL ?? local!.url;
  const redis = new Redis(redisUrl);
  let sim: Awaited<ReturnType<typeof startSim>> | undefined;
  let gateway: GatewayProcess | undefined;
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  try {
    await deletePrefix(redis, PREFIX);
    sim = await startSim(instances / PER_STACK, PER_STACK);
    const port = await freePort();
    const configFile = join(dir, 'config.yaml');
    // JSON is YAML: the file a user would write, key for key.
    writeFileSync(
      configFile,
      JSON.stringify(
        {
          server: { host: '127.0.0.1', port },
          // Under callgrind a script call takes ~50× longer than the default command timeout (1 s) allows for.
          redis: { url: redisUrl, keyPrefix: PREFIX, ...(counted ? { pingTimeoutMs: 30_000 } : {}) },
          auth: { tokens: [{ name: 'bench', token: CLIENT_TOKEN, role: 'client' }] },
          log: { level: 'warn', format: 'json' },
          backends: [simHeatBackend(sim.out, { push: { token: PUSH_TOKEN } })],
          strategy: { name: 'webhook', webhook: { resyncIntervalMs: 86_400_000 } },
          ...(feedMaxLength === undefined ? {} : { feed: { maxLength: feedMaxLength } }),
        },
        null,
        2,
      ),
    );
    const started = GatewayProcess.start(configFile, { NODE_ENV: 'production' });
    gateway = started;
    const url = `http://127.0.0.1:${port}`;
    await waitHttp(`${url}/readyz`, started.child, () => started.log);
    const fillDeadline = Date.now() + 600_000;
    while ((await redis.zcard(`${PREFIX}idx:i`)) < instances) {
      if (Date.now() > fillDeadline || started.child.exitCode !== null) throw new Error(`the resync did not fill ${instances} instances:\n${started.log.slice(-3_000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const ids = await redis.zrange(`${PREFIX}idx:i`, '0', '-1');
    const readDocs = async (): Promise<string[]> => {
      const pipeline = redis.pipeline();
      for (const id of ids) pipeline.hget(`${PREFIX}i:${id}`, 'j');
      return ((await pipeline.exec()) ?? []).map(([err, json]) => {
        if (err || typeof json !== 'string') throw new Error(`record of ${ids.length} instances unreadable: ${String(err)}`);
        return json;
      });
    };
    const servers = (await readDocs()).map((json) => JSON.parse(json) as Instance);
    /** Entries ever appended to the feed (XINFO STREAM `entries-added`, Redis 7), trimmed ones included. */
    const entriesAdded = async (): Promise<number> => {
      const info = (await redis.xinfo('STREAM', `${PREFIX}feed`)) as (string | number)[];
      return Number(info[info.indexOf('entries-added') + 1]);
    };

    /** POSTs every body, `concurrency` in flight; resolves with the statuses that were not 202. */
    const post = async (bodies: Buffer[]): Promise<string[]> => {
      const failures: string[] = [];
      let next = 0;
      const one = (body: Buffer) =>
        new Promise<void>((resolve, reject) => {
          const req = request(
            `${url}/v1/notifications/heat-1`,
            { method: 'POST', agent, headers: { authorization: `Bearer ${PUSH_TOKEN}`, 'content-type': 'application/json', 'content-length': body.length } },
            (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => {
                if (res.statusCode !== 202) failures.push(`${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 300)}`);
                resolve();
              });
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < bodies.length) await one(bodies[next++]!);
      }));
      return failures;
    };
    let sent = 0;
    // Each round's notifications are newer than everything stored (the simulator dates some
    // servers a few seconds ahead, Nova's `updated` has whole seconds): an older one would be
    // absorbed as stale, which is right but not what this measures.
    let lastAtMs = Math.max(...servers.map((s) => (s.updatedAt ? Date.parse(s.updatedAt) : 0)));
    const bodiesFor = (vmState: 'active' | 'stopped'): Buffer[] => {
      const atMs = (lastAtMs = Math.max(Date.now(), lastAtMs + 1_000));
      const bodies: Buffer[] = [];
      for (let i = 0; i < servers.length; i += perRequest) {
        const list = servers.slice(i, i + perRequest).map((server) => notification(server, vmState, atMs, sent++));
        bodies.push(Buffer.from(JSON.stringify(list)));
      }
      return bodies;
    };
    /** Redis's pid, for its page faults, when it runs on this machine (a remote pid would name another process here). */
    const onThisMachine = ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(redisUrl).hostname);
    const redisPid = onThisMachine ? Number(/^process_id:(\d+)/m.exec(await redis.info('server'))?.[1]) : undefined;
    const redisCpu = () => redisCpuSeconds(redis);

    /**
     * Waits until the webhook fan-out has handled every feed entry so far (its consumer group
     * read to the feed's end, nothing pending): a change's cost includes its fan-out, which
     * runs behind the 202s. Returns how long that took; throws after 30 s.
     */
    const fanoutGroup = new FeedConsumerGroup(redis, () => redis, `${PREFIX}feed`, CONSUMER_GROUP);
    const fanoutCaughtUp = async (): Promise<number> => {
      const t0 = performance.now();
      for (;;) {
        const lag = await fanoutGroup.lag();
        if (lag.pending === 0 && lag.readToEnd) return performance.now() - t0;
        if (performance.now() - t0 > 30_000) throw new Error('the webhook fan-out did not catch up with the feed within 30 s');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };

    /** Every record holds `state`, or the round failed. */
    const expectStates = async (what: string, state: string) => {
      const wrong = (await readDocs()).filter((json) => (JSON.parse(json) as Instance).state !== state);
      if (wrong.length > 0) throw new Error(`${what}: ${wrong.length} records are not ${state}, e.g. ${wrong[0]}`);
    };

    /** A round that is not timed: every server to `vmState`; throws unless every request answered 202. */
    const untimedRound = async (what: string, vmState: 'active' | 'stopped') => {
      const failures = await post(bodiesFor(vmState));
      if (failures.length > 0) throw new Error(`${what}: ${failures.length} requests failed: ${failures[0]}`);
    };
    // Warm-up: every server stopped, whatever the simulator had it in.
    await untimedRound('warm-up', 'stopped');
    await expectStates('warm-up', 'stopped');
    // --feed full: rounds until the feed holds its retention, an even number of them so every
    // server ends stopped as after the warm-up.
    let fillRounds = 0;
    while (feedStart === 'full' && (fillRounds % 2 === 1 || (await redis.xlen(`${PREFIX}feed`)) < retention)) {
      fillRounds++;
      await untimedRound('filling the feed', fillRounds % 2 === 1 ? 'active' : 'stopped');
    }
    if (fillRounds > 0) await expectStates('filling the feed', 'stopped');
    const feedAtStart = await redis.xlen(`${PREFIX}feed`);

    const baselineSide = { seconds: [] as number[], redisCpu: 0, benchCpu: 0 };
    const gatewaySide = { seconds: [] as number[], redisCpu: 0, gatewayCpu: 0, benchCpu: 0, redisFaults: 0, gatewayFaults: 0, events: [] as number[], loads: [] as string[], fanoutLagMs: [] as number[] };
    const commands = new CommandCounter(redis);
    const cpuNow = () => {
      const c = process.cpuUsage();
      return (c.user + c.system) / 1e6;
    };
    for (let round = 1; round <= rounds; round++) {
      // Baseline: the gateway's own documents, HSET in pipelines of 500, no logic.
      const docs = await readDocs();
      let r0 = await redisCpu();
      let b0 = cpuNow();
      let t0 = performance.now();
      for (let i = 0; i < docs.length; i += 500) {
        const pipeline = redis.pipeline();
        for (let n = i; n < Math.min(i + 500, docs.length); n++) pipeline.hset(`${PREFIX}base:${ids[n]}`, 'j', docs[n]!);
        await pipeline.exec();
      }
      baselineSide.seconds.push((performance.now() - t0) / 1_000);
      baselineSide.benchCpu += cpuNow() - b0;
      baselineSide.redisCpu += (await redisCpu()) - r0;

      // The gateway: every server changes state once.
      const vmState = round % 2 === 1 ? 'active' : 'stopped';
      const bodies = bodiesFor(vmState);
      const added0 = await entriesAdded();
      await commands.start();
      const g0 = gateway.cpuSeconds();
      const faults0 = { redis: processCounters(redisPid).minorFaults, gateway: gateway.minorFaults() };
      r0 = await redisCpu();
      counted?.on();
      b0 = cpuNow();
      t0 = performance.now();
      const failures = await post(bodies);
      gatewaySide.seconds.push((performance.now() - t0) / 1_000);
      // CPU is counted until the fan-out has handled the round's events too.
      gatewaySide.fanoutLagMs.push(Math.round(await fanoutCaughtUp()));
      counted?.off();
      gatewaySide.benchCpu += cpuNow() - b0;
      gatewaySide.gatewayCpu += gateway.cpuSeconds() - g0;
      gatewaySide.redisFaults += processCounters(redisPid).minorFaults - faults0.redis;
      gatewaySide.gatewayFaults += gateway.minorFaults() - faults0.gateway;
      gatewaySide.redisCpu += (await redisCpu()) - r0;
      await commands.stop();
      gatewaySide.loads.push(loadAverage());
      if (failures.length > 0) throw new Error(`round ${round}: ${failures.length} of ${bodies.length} requests were not 202: ${failures[0]}`);

      // Every change stored with its event.
      const events = (await entriesAdded()) - added0;
      gatewaySide.events.push(events);
      if (events !== servers.length) throw new Error(`round ${round}: ${events} feed events for ${servers.length} changes`);
      const [newest] = await redis.xrevrange(`${PREFIX}feed`, '+', '-', 'COUNT', 1);
      const type = newest?.[1][newest[1].indexOf('t') + 1];
      if (type !== 'instance.state_changed') throw new Error(`round ${round}: the newest feed event is ${type}, not instance.state_changed`);
      await expectStates(`round ${round}`, vmState === 'active' ? 'running' : 'stopped');
    }

    const changes = servers.length * rounds;
    const us = (seconds: number) => Number(((seconds / changes) * 1e6).toFixed(1));
    const observeRate = servers.length / median(gatewaySide.seconds);
    const baselineRate = servers.length / median(baselineSide.seconds);
    const redisUs = us(gatewaySide.redisCpu);
    const redisInstructionsPerChange = counted ? Math.round(counted.instructions() / changes) : undefined;
    const gatewayUs = us(gatewaySide.gatewayCpu);
    const commandsPerChange = commands.perUnit(changes, 'calls', 3);
    // Time Redis spent executing each command, per change (EVALSHA's includes the commands its script runs).
    const commandUsPerChange = commands.perUnit(changes, 'usec', 2);
    // Growing memory (the feed's new nodes in Redis, the heap's new pages in the gateway)
    // costs a page fault per page: priced at what one costs here, measured now.
    const faultUs = pageFaultMicros();
    const faultsPerChange = (faults: number) => Number((faults / changes).toFixed(3));
    const pageFaults = {
      perChange: { redis: faultsPerChange(gatewaySide.redisFaults), gateway: faultsPerChange(gatewaySide.gatewayFaults) },
      machineUsPerFault: faultUs,
      usPerChange: {
        redis: Number(((gatewaySide.redisFaults / changes) * faultUs).toFixed(1)),
        gateway: Number(((gatewaySide.gatewayFaults / changes) * faultUs).toFixed(1)),
      },
    };
    const result = {
      bench: 'observe',
      layout: '`heat-gateway start --config` (webhook, one Heat backend, default modules) in a child, filled by its resync from `heat-gateway sim` (another child); notifications POSTed from this process; one Redis',
      params: { instances: servers.length, perRequest, concurrency, rounds, format, feedMaxLength: feedMaxLength ?? 'default', feed: feedStart, requestsPerRound: Math.ceil(servers.length / perRequest), gatewayNodeFlags: gateway!.nodeFlags.join(' ') },
      // Feed entries when the timed rounds began (after the untimed rounds that filled it), and its retention.
      feedAtStart: { entries: feedAtStart, retention, fillRounds },
      observePerSecond: Math.round(observeRate),
      observePerSecondPerRound: gatewaySide.seconds.map((s) => Math.round(servers.length / s)),
      baselineHsetPerSecond: Math.round(baselineRate),
      baselineHsetPerSecondPerRound: baselineSide.seconds.map((s) => Math.round(servers.length / s)),
      ratio: Number((observeRate / baselineRate).toFixed(3)),
      feedEventsPerRound: gatewaySide.events,
      fanoutCaughtUpMsAfterLast202PerRound: gatewaySide.fanoutLagMs,
      cpu: {
        redisUsPerChange: redisUs,
        gatewayUsPerChange: gatewayUs,
        senderUsPerChange: us(gatewaySide.benchCpu),
        baselineRedisUsPerHset: us(baselineSide.redisCpu),
        baselineSenderUsPerHset: us(baselineSide.benchCpu),
      },
      // With a core each (Redis, the gateway), the slower side sets the rate.
      pageFaults,
      redisBoundPerSecond: Math.round(1e6 / redisUs),
      gatewayBoundPerSecond: Math.round(1e6 / gatewayUs),
      redisCommandsPerChange: commandsPerChange,
      redisCommandUsPerChange: commandUsPerChange,
      // Under callgrind: what Redis executed per change while the rounds ran (their rates mean nothing then).
      ...(redisInstructionsPerChange === undefined ? {} : { redisUnderCallgrind: true, redisInstructionsPerChange }),
      targetObservePerSecond: 50_000,
      meetsTarget: counted ? null : observeRate >= 50_000,
      gatewayPeakRssMiB: Math.round(gateway.peakRssMiB()),
      loadAverageBefore: loadBefore,
      loadAveragePerRound: gatewaySide.loads,
    };
    const fmt = (n: number) => n.toLocaleString('en-US');
    printTable(
      ['measure', 'value'],
      [
        [`heat-gateway start: ${format} notifications stored/s (median of ${rounds}), each a change with its feed event`, fmt(result.observePerSecond)],
        ['… per round', result.observePerSecondPerRound.map(fmt).join(' ')],
        ['feed when the timed rounds began (its retention)', `${fmt(feedAtStart)} entries (${fmt(retention)})`],
        ['pipelined HSET of the same documents/s (baseline, same run)', fmt(result.baselineHsetPerSecond)],
        ['ratio', result.ratio.toFixed(2)],
        ['webhook fan-out caught up after the last 202, per round (ms)', result.fanoutCaughtUpMsAfterLast202PerRound.join(' ')],
        ['CPU per change, until the fan-out caught up: Redis + gateway (+ sender)', `${redisUs} + ${gatewayUs} µs (+ ${result.cpu.senderUsPerChange} µs)`],
        ['CPU per HSET (baseline): Redis + sender', `${result.cpu.baselineRedisUsPerHset} + ${result.cpu.baselineSenderUsPerHset} µs`],
        [
          `page faults per change: Redis + gateway (at ${faultUs} µs each, this machine's first touch of a page)`,
          `${pageFaults.perChange.redis} + ${pageFaults.perChange.gateway} (≈ ${pageFaults.usPerChange.redis} + ${pageFaults.usPerChange.gateway} µs of the CPU above)`,
        ],
        ['one core each: Redis-bound / gateway-bound', `${fmt(result.redisBoundPerSecond)} / ${fmt(result.gatewayBoundPerSecond)}`],
        ['Redis commands per change (≥ 0.005)', Object.entries(commandsPerChange).filter(([, n]) => n >= 0.005).map(([c, n]) => `${c} ${n}`).join(', ')],
        ['Redis µs per change by command (commandstats; EVALSHA includes its script\'s)', Object.entries(commandUsPerChange).filter(([, n]) => n >= 0.05).map(([c, n]) => `${c} ${n}`).join(', ')],
        ['feed events per round (one per change)', result.feedEventsPerRound.join(' ')],
        ...(redisInstructionsPerChange === undefined ? [] : [['Redis instructions per change (callgrind, the timed rounds with their fan-out)', fmt(redisInstructionsPerChange)]]),
        ['target ≥ 50,000/s', counted ? 'not judged: Redis ran under callgrind' : result.meetsTarget ? 'met' : 'NOT met'],
      ],
    );
    console.log(`load average before: ${loadBefore}; per round: ${gatewaySide.loads.join(' | ')}`);
    console.log(`written to ${writeResult('observe', result, { publish: values.publish, dir: values.out })}`);
  } finally {
    agent.destroy();
    await gateway?.stop();
    await stopSim(sim?.child);
    await deletePrefix(redis, PREFIX).catch(() => {});
    redis.disconnect();
    await local?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
