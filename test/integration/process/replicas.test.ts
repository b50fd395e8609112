/**
 * Two gateway processes on one Redis under cached-poll: the simulator counts one poll per
 * deployment per tick (not two), and the feed holds no duplicate events.
 */
import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { startSimulator, type Simulator } from '../../../src/sim/simulator.js';
import { ChangeFeed } from '../../../src/store/change-feed.js';
import { StateStore } from '../../../src/store/state-store.js';
import { runCli, type CliProcess } from '../../helpers/process.js';
import { deletePrefix, freePort, sharedRedisUrl, testPrefix, waitFor } from '../../helpers/redis.js';
import { simBackends } from '../../helpers/world.js';

const INTERVAL_MS = 1_000;
const RESOURCES = 'GET heat /stacks/:name/:id/resources';

describe('two gateway processes on one Redis (cached-poll)', function () {
  this.timeout(60_000);
  let sim: Simulator;
  let gateways: CliProcess[] = [];
  let redis: Redis;
  const prefix = testPrefix();

  before(async () => {
    sim = await startSimulator({ seed: 11, deployments: 6, instancesPerDeployment: 2, changeRate: 0 });
    const url = await sharedRedisUrl();
    redis = new Redis(url);
    const file = join(mkdtempSync(join(tmpdir(), 'hgw-replicas-')), 'gateway.yaml');
    writeFileSync(
      file,
      stringify({
        redis: { url, keyPrefix: prefix },
        backends: simBackends(sim),
        // No jitter and steady stacks: every stack is due exactly once per interval.
        strategy: { name: 'cached-poll', cachedPoll: { intervalMs: INTERVAL_MS, fastIntervalMs: 250, jitter: 0 } },
        log: { level: 'warn', format: 'json' },
      }),
    );
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const gw = runCli(['start', '--config', file], { HGW_SERVER__PORT: String(port) });
      gateways.push(gw);
      // Ready (strategy running), not only alive: /healthz answers before Redis is reached.
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0)) === 200, {
        timeoutMs: 20_000,
        what: `gateway ${i}: ${gw.output()}`,
      });
    }
  });

  after(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    gateways = [];
    await sim?.close();
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });

  it('polls each deployment once per tick between them, and the feed has no duplicates', async () => {
    const store = new StateStore(redis, prefix, { maxLength: 1_000_000, maxAgeMs: 86_400_000 });
    await waitFor(async () => (await store.counts()).instances === 12, { timeoutMs: 20_000, what: 'the initial sync' });
    // Let every stack settle into the steady interval, then count from a clean slate.
    await waitFor(() => (sim.handle.stats().endpoints[RESOURCES]?.requests ?? 0) >= 12, { timeoutMs: 10_000, what: 'steady polling' });
    sim.handle.resetStats();
    const started = Date.now();
    const deployments = 6;
    const wanted = deployments * 5;
    await waitFor(() => (sim.handle.stats().endpoints[RESOURCES]?.requests ?? 0) >= wanted, { timeoutMs: 20_000, what: `${wanted} polls` });
    const elapsedMs = Date.now() - started;
    const polls = sim.handle.stats().endpoints[RESOURCES]!.requests;
    // One poller: about elapsed/interval polls per stack. Two independent pollers would double it.
    const perStackPerInterval = polls / deployments / (elapsedMs / INTERVAL_MS);
    expect(perStackPerInterval, `${polls} polls of ${deployments} stacks in ${elapsedMs} ms`).to.be.within(0.6, 1.3);

    // Both processes did work: each one is a BullMQ worker on the same queue.
    for (const g of gateways) expect(g.child.exitCode).to.equal(null);

    // Changes observed by either replica appear once in the feed.
    const victims = sim.handle.world().instances.slice(0, 4);
    for (const v of victims) sim.handle.applyChange('crash', v.id, { crashTo: 'ERROR' });
    await waitFor(async () => (await Promise.all(victims.map((v) => store.getInstance(v.id)))).every((i) => i?.state === 'error'), {
      timeoutMs: 10_000,
      what: 'the crashes',
    });
    const feed = new ChangeFeed(redis, prefix, { maxLength: 1_000_000, maxAgeMs: 86_400_000 });
    const seen = new Set<string>();
    let after = '0';
    for (;;) {
      const page = await feed.read(after, 1_000);
      if (page.entries.length === 0) break;
      for (const e of page.entries) {
        const version = (JSON.parse(e.json) as { data: { current?: { version?: number } } }).data.current?.version;
        const key = `${e.type}|${e.subject}|${version}`;
        expect(seen.has(key), `duplicate event ${key}`).to.equal(false);
        seen.add(key);
      }
      after = page.next;
    }
    expect([...seen].filter((k) => k.startsWith('instance.state_changed'))).to.have.length(4);
  });
});
