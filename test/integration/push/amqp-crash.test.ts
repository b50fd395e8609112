import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import type { Instance } from '../../../src/model/types.js';
import { startSimulator, type Simulator } from '../../../src/sim/simulator.js';
import { toEntry } from '../../../src/store/change-feed.js';
import { StateStore } from '../../../src/store/state-store.js';
import { TOKENS } from '../../helpers/gateway.js';
import { runCli, type CliProcess } from '../../helpers/process.js';
import { instanceUpdate, publishNotifications, useRabbitMQ } from '../../helpers/rabbitmq.js';
import { deletePrefix, freePort, sharedRedisUrl, testPrefix, waitFor } from '../../helpers/redis.js';
import { api } from '../../helpers/webhook-receiver.js';
import { FAST_STRATEGY_OPTIONS } from '../../helpers/world.js';
import { amqpBackends } from './push-world.js';

describe('push over AMQP across a SIGKILL (real RabbitMQ, real heat-gateway start)', function () {
  this.timeout(180_000);
  const rabbit = useRabbitMQ();
  const procs: CliProcess[] = [];
  let sim: Simulator | undefined;
  let redis: Redis | undefined;
  const prefix = testPrefix();

  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await sim?.close();
    if (redis) {
      await deletePrefix(redis, prefix);
      await redis.quit();
    }
  });

  it('1,000 notifications published while the gateway is killed and restarted: all applied, 0 lost, 0 duplicated', async () => {
    sim = await startSimulator({ clock: 'manual', startTime: new Date().toISOString(), seed: 11, deployments: 5, instancesPerDeployment: 4 });
    const redisUrl = await sharedRedisUrl();
    redis = new Redis(redisUrl);
    const store = new StateStore(redis, prefix, { maxLength: 1_000_000, maxAgeMs: 86_400_000 });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const dir = mkdtempSync(join(tmpdir(), 'hgw-amqp-crash-'));
    const configFile = join(dir, 'gateway.yaml');
    writeFileSync(
      configFile,
      stringify({
        server: { host: '127.0.0.1', port },
        redis: { url: redisUrl, keyPrefix: prefix },
        auth: { tokens: Object.entries(TOKENS).map(([role, token]) => ({ name: `test-${role}`, token, role })) },
        backends: amqpBackends(sim, rabbit.url, rabbit.queue),
        strategy: { name: 'webhook', ...FAST_STRATEGY_OPTIONS },
        log: { level: 'error', format: 'json' },
      }),
    );
    const start = async () => {
      const p = runCli(['start', '--config', configFile]);
      procs.push(p);
      await waitFor(async () => (await api(url, TOKENS.admin, 'GET', '/admin/status')).json?.push?.amqp?.[0]?.state === 'consuming', {
        timeoutMs: 60_000,
        what: `the gateway to consume\n${p.output()}`,
      });
      return p;
    };
    const events = async () =>
      (await redis!.xrange(store.keys.feed, '-', '+'))
        .map(([id, fields]) => toEntry(id, fields))
        .filter((e) => e.type === 'instance.state_changed')
        .map((e) => (JSON.parse(e.json) as { data: { current: Instance } }).data.current);

    const first = await start();
    const servers = sim.handle.world().instances.map((i) => i.id);
    await waitFor(async () => (await store.counts()).instances >= servers.length, { timeoutMs: 20_000, what: 'the initial resync' });
    const before = (await events()).length;

    // Every notification is a real change (states alternate per server), each newer than the last.
    const startMs = Date.now() + 1_000;
    const updates = Array.from({ length: 1_000 }, (_, k) =>
      instanceUpdate(servers[k % servers.length]!, Math.floor(k / servers.length) % 2 === 0 ? 'stopped' : 'active', null, startMs + k),
    );
    await publishNotifications(rabbit.url, updates.slice(0, 500));
    await waitFor(async () => (await events()).length - before >= 50, { timeoutMs: 20_000, what: 'the gateway to be mid-stream' });
    await first.stop('SIGKILL');
    const appliedBeforeKill = (await events()).length - before;
    await publishNotifications(rabbit.url, updates.slice(500));

    await start();
    await waitFor(async () => (await events()).length - before >= 1_000, { timeoutMs: 60_000, what: 'all 1,000 notifications' });
    const applied = (await events()).slice(before);
    expect(appliedBeforeKill, 'the kill came mid-stream').to.be.below(1_000);
    expect(applied).to.have.length(1_000);
    expect(new Set(applied.map((e) => `${e.id}@${e.updatedAt}`)).size, 'one event per notification').to.equal(1_000);
    expect(new Set(applied.map((e) => `${e.id}@${e.version}`)).size, 'no version twice').to.equal(1_000);
    // Nothing left behind either (the depth is the broker's, refreshed at most once a second).
    await waitFor(async () => (await api(url, TOKENS.admin, 'GET', '/admin/status')).json.push.amqp[0].queueDepth === 0, { timeoutMs: 10_000, what: 'an empty queue' });
    expect((await events()).length - before).to.equal(1_000);
  });
});
