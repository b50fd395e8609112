/**
 * The real `heat-gateway start` process on a Redis Sentinel group and on a Redis Cluster
 * (started for real by test/helpers/redis-ha.ts, AOF on), failed over while it serves reads
 * and acknowledges writes: every answer is a 2xx or a 503 with Retry-After (never a 500),
 * nothing acknowledged is lost, and writes, polls, the feed fan-out and webhook deliveries
 * (BullMQ queue + blocking worker) resume on the new primary.
 */
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import { TOKENS } from '../helpers/gateway.js';
import { send } from '../helpers/http.js';
import { runCli, type CliProcess } from '../helpers/process.js';
import { freePort, testPrefix, waitFor } from '../helpers/redis.js';
import { RedisCluster, SentinelGroup } from '../helpers/redis-ha.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';
import { simBackends } from '../helpers/world.js';

interface Topology {
  redis: Record<string, unknown>;
  /** A planned failover of the primary that serves `prefix`. */
  failover(): Promise<void>;
  /** The primary serving `prefix` dies (SIGKILL); a replica takes over. */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

const TOPOLOGIES: Record<string, (prefix: string) => Promise<Topology>> = {
  sentinel: async () => {
    const group = await SentinelGroup.start();
    return {
      redis: { sentinels: group.sentinelUrls, sentinelName: group.name },
      failover: async () => void (await group.failover()),
      crash: async () => {
        const port = await group.primaryPort();
        await [group.primary, group.replica].find((n) => n.port === port)!.kill();
        await waitFor(async () => (await group.primaryPort()) !== port, { timeoutMs: 30_000, intervalMs: 100, what: 'Sentinel to promote the replica' });
      },
      stop: () => group.stop(),
    };
  },
  cluster: async (prefix) => {
    const cluster = await RedisCluster.start();
    const key = `${prefix}feed`;
    return {
      redis: { cluster: cluster.urls.slice(0, 2) },
      failover: async () => void (await cluster.failover(key)),
      crash: async () => {
        // After the planned failover the old primary rejoins as a replica on its own time:
        // wait until a replica serves the key and is in sync before killing its primary.
        let owner = await cluster.ownerOf(key);
        await waitFor(
          async () => {
            owner = await cluster.ownerOf(key);
            return !!owner.replica && ((await owner.replica.command('INFO', 'replication')) as string).includes('master_link_status:up');
          },
          { timeoutMs: 30_000, intervalMs: 100, what: `a replica in sync serving ${key}` },
        );
        const { primary, replica } = owner;
        await primary.kill();
        await waitFor(async () => (await cluster.ownerOf(key)).primary === replica, { timeoutMs: 30_000, intervalMs: 100, what: 'the replica to take over' });
      },
      stop: () => cluster.stop(),
    };
  },
};

const auth = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

for (const [kind, start] of Object.entries(TOPOLOGIES)) {
  describe(`a gateway process on Redis ${kind}, failed over under load`, function () {
    this.timeout(120_000);
    const prefix = testPrefix();
    let topology: Topology;
    let sim: Simulator;
    let receiver: Receiver;
    let gateway: CliProcess;
    let url: string;

    before(async () => {
      topology = await start(prefix);
      sim = await startSimulator({ seed: 5, deployments: 10, instancesPerDeployment: 3, changeRate: 0 });
      receiver = await startReceiver();
      const file = join(mkdtempSync(join(tmpdir(), `hgw-ha-${kind}-`)), 'gateway.yaml');
      writeFileSync(
        file,
        stringify({
          redis: { url: 'redis://127.0.0.1:1', keyPrefix: prefix, connectTimeoutMs: 1_000, ...topology.redis },
          auth: { tokens: Object.entries(TOKENS).map(([role, token]) => ({ name: role, token, role })) },
          backends: simBackends(sim),
          strategy: { name: 'cached-poll', cachedPoll: { intervalMs: 500, fastIntervalMs: 200, jitter: 0.1 } },
          webhooks: { allowNetworks: ['127.0.0.0/8'] },
          log: { level: 'warn', format: 'json' },
        }),
      );
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      gateway = runCli(['start', '--config', file], { HGW_SERVER__PORT: String(port), REDIS_URL: 'redis://127.0.0.1:2' });
      await waitFor(async () => (await send(url, 'GET', '/readyz').catch(() => ({ status: 0 }))).status === 200, {
        timeoutMs: 30_000,
        what: `the gateway to be ready: ${gateway.output()}`,
      });
      await waitFor(async () => (await send(url, 'GET', '/v1/instances?limit=100', auth(TOKENS.client))).json?.data?.length === 30, {
        timeoutMs: 20_000,
        what: 'the initial sync',
      });
    });

    afterEach(function () {
      // The gateway's own log says what it saw (failover, retries) when a check fails.
      if (this.currentTest?.state === 'failed') process.stderr.write(`gateway log (tail):\n${gateway.output().slice(-6_000)}\n`);
    });

    after(async () => {
      if (gateway?.child.exitCode === null) await gateway.stop('SIGKILL');
      await receiver?.close();
      await sim?.close();
      await topology?.stop();
    });

    it('says once that redis.url and REDIS_URL are ignored', () => {
      const lines = gateway.output().split('\n').filter((l) => l.includes('redis.url and REDIS_URL are ignored'));
      expect(lines).to.have.length(1);
      expect(lines[0]).to.include(kind === 'cluster' ? 'Cluster' : 'Sentinel');
    });

    for (const how of ['failover', 'crash'] as const) {
      const title =
        how === 'failover'
          ? 'answers 2xx or 503 through a planned failover, loses nothing acknowledged, and resumes'
          : 'answers 2xx or 503 when the primary is killed, and resumes on the promoted replica';
      it(title, async () => {
        const statuses = new Map<number, number>();
        const missingRetryAfter: string[] = [];
        const acknowledged: string[] = [];
        const ids = sim.handle.world().instances.map((i) => i.id);
        let running = true;
        const record = (what: string, res: { status: number; headers: Record<string, unknown> }) => {
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status === 503 && !res.headers['retry-after']) missingRetryAfter.push(what);
        };
        const reader = async () => {
          for (let n = 0; running; n++) {
            const path = n % 3 === 0 ? '/v1/instances?limit=20' : `/v1/instances/${ids[n % ids.length]}`;
            record(path, await send(url, 'GET', path, auth(TOKENS.client)));
          }
        };
        const writer = async () => {
          for (let n = 0; running; n++) {
            const res = await send(url, 'POST', '/v1/webhooks', auth(TOKENS.client), JSON.stringify({ url: `${receiver.url}/w/${n}`, events: ['webhook.test'] }));
            record('POST /v1/webhooks', res);
            if (res.status === 201) acknowledged.push(res.json.id as string);
            await new Promise((r) => setTimeout(r, 10));
          }
        };
        const load = Promise.all([reader(), reader(), writer()]);
        await waitFor(() => acknowledged.length >= 5, { timeoutMs: 10_000, what: 'writes before the failover' });
        await topology[how]();
        const after = acknowledged.length;
        // Writes resume on the new primary.
        await waitFor(() => acknowledged.length >= after + 5, { timeoutMs: 30_000, what: `writes after the ${how}` });
        running = false;
        await load;

        const unexpected = [...statuses].filter(([status]) => ![200, 201, 503].includes(status));
        expect(unexpected, `statuses ${JSON.stringify([...statuses])}`).to.deep.equal([]);
        expect(missingRetryAfter, '503 without Retry-After').to.deep.equal([]);
        expect(gateway.child.exitCode).to.equal(null);
        // A crash may lose what the primary acknowledged but had not yet replicated (Redis
        // replicates asynchronously), and a BullMQ job caught in that window stays locked
        // until BullMQ's stall check frees it (docs/operations.md); the checks below hold for
        // the planned failover, which hands everything over.
        if (how === 'crash') return;
        const lost: string[] = [];
        for (const id of acknowledged) if ((await send(url, 'GET', `/v1/webhooks/${id}`, auth(TOKENS.client))).status !== 200) lost.push(id);
        expect(lost, `${lost.length} of ${acknowledged.length} acknowledged webhooks lost`).to.deep.equal([]);

        // Polls, the feed, the fan-out and the delivery worker work on the new primary.
        const hook = await send(url, 'POST', '/v1/webhooks', auth(TOKENS.client), JSON.stringify({ url: `${receiver.url}/after-failover`, events: ['instance.state_changed'] }));
        expect(hook.status).to.equal(201);
        const victim = sim.handle.world().instances.find((i) => i.novaStatus === 'ACTIVE')!;
        sim.handle.applyChange('crash', victim.id, { crashTo: 'ERROR' });
        await waitFor(async () => (await send(url, 'GET', `/v1/instances/${victim.id}`, auth(TOKENS.client))).json?.data?.state === 'error', {
          timeoutMs: 20_000,
          what: 'the instance crash to reach the cache',
        });
        await waitFor(
          () => receiver.received.some((r) => r.path === '/after-failover' && (JSON.parse(r.body) as { data: { current: { id: string } } }).data.current.id === victim.id),
          { timeoutMs: 20_000, what: 'the webhook delivery of the instance crash' },
        );
      });
    }

    it('exits on SIGTERM within its shutdown grace, though the killed primary is still gone', async () => {
      // server.shutdownGraceMs is 5 s by default; the margin covers process exit on a busy box.
      const code = await Promise.race([gateway.stop(), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000))]);
      expect(code, `exit after SIGTERM; log tail:\n${gateway.output().slice(-2_000)}`).to.equal(0);
    });
  });
}
