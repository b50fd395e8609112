import { expect } from 'chai';
import { Gateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/log/logger.js';
import { defaultModules } from '../../../src/modules.js';
import { STORE_LAYOUT } from '../../../src/store/store-layout.js';
import { ReplicaRegistry } from '../../../src/store/replica-registry.js';
import { StateStore } from '../../../src/store/state-store.js';
import type { InstanceState } from '../../../src/model/states.js';
import { at, deploymentObs, instanceObs } from '../../helpers/observations.js';
import { asLayout3, asLayoutBeforeW, pagedInstanceIds } from '../../helpers/store.js';
import { testConfig } from '../../helpers/gateway.js';
import { deletePrefix, testRedis, waitFor } from '../../helpers/redis.js';

describe('store layout across an upgrade', () => {
  const gateways: Gateway[] = [];
  let prefix = '';
  afterEach(async () => {
    for (const g of gateways.splice(0)) await g.stop();
    const config = await testConfig();
    await deletePrefix(testRedis(config.redis.url), prefix);
  });

  async function gatewayBeside(card: Record<string, unknown>) {
    const config = await testConfig();
    prefix = config.redis.keyPrefix;
    await new ReplicaRegistry(testRedis(config.redis.url), prefix, 10_000).beat({ id: 'replica-1', ...card }, Date.now());
    const gateway = new Gateway({ config, logger: silentLogger(), modules: defaultModules() });
    gateways.push(gateway);
    return { gateway, config };
  }

  const earlier = [
    { layout: 1, what: 'no feedLayout in its card', card: { version: '0.1.0', host: 'old-host', pid: 4242 } },
    { layout: 2, what: 'sets per state', card: { version: '0.2.0', host: 'old-host', pid: 4343, feedLayout: 2 } },
    { layout: 3, what: 'version and observedAt as fields', card: { version: '0.3.0', host: 'old-host', pid: 4444, feedLayout: 3 } },
    { layout: 4, what: 'a body stored for every delivery', card: { version: '0.4.0', host: 'old-host', pid: 4545, feedLayout: 4 } },
  ];
  for (const { layout, what, card } of earlier) {
    it(`refuses to start while a replica of store layout ${layout} (${what}) is alive, naming it`, async () => {
      const { gateway } = await gatewayBeside(card);
      let failure: Error | undefined;
      await gateway.start().catch((err: Error) => (failure = err));
      expect(failure?.message).to.contain(`replica-1 (version ${card.version}, host old-host, pid ${card.pid})`);
      expect(failure?.message).to.contain('Stop every replica of the earlier version');
    });
  }

  /** A store on a fresh prefix, and 2,500 instance ids for it. */
  async function freshStore() {
    const config = await testConfig();
    prefix = config.redis.keyPrefix;
    const redis = testRedis(config.redis.url);
    const store = new StateStore(redis, prefix, config.feed);
    const ids = Array.from({ length: 2_500 }, (_, i) => `i-${String(i).padStart(4, '0')}`);
    return { config, redis, store, ids };
  }

  it('moves the sets per state of layout 2 into the state index before serving, by each record\'s state now', async () => {
    const { config, redis, store, ids } = await freshStore();
    const stateOf = (i: number) => (i % 3 === 0 ? 'error' : 'running');
    await store.observeInstances(ids.map((id, i) => instanceObs({ id, state: stateOf(i) })), { source: 's' });
    // What layout 2 left: a set per state (score 0), one stale member, one without a record.
    await redis.del(`${prefix}st:i`);
    for (const [i, id] of ids.entries()) await redis.zadd(`${prefix}s:${stateOf(i)}`, 0, id);
    await redis.zadd(`${prefix}s:stopped`, 0, 'i-0001', 0, 'i-gone');
    const gateway = new Gateway({ config, logger: silentLogger(), modules: defaultModules() });
    gateways.push(gateway);
    await gateway.start();
    expect(await redis.exists(`${prefix}s:error`, `${prefix}s:running`, `${prefix}s:stopped`)).to.equal(0);
    expect(await redis.zcard(`${prefix}st:i`)).to.equal(ids.length);
    const listed = (state: InstanceState) => pagedInstanceIds(store, { limit: 500, state });
    expect(await listed('error')).to.deep.equal(ids.filter((_, i) => stateOf(i) === 'error'));
    expect(await listed('running')).to.deep.equal(ids.filter((_, i) => stateOf(i) === 'running'));
    expect(await listed('stopped')).to.deep.equal([]);
  });

  it('rewrites every record of an earlier layout before serving, then marks the store so later starts skip the walk', async () => {
    const { config, redis, store, ids } = await freshStore();
    await store.observeInstances(ids.map((id, i) => instanceObs({ id, name: `web-${i}` })), { source: 's', observedAtMs: Date.parse(at(1)) });
    await store.observeInstances(ids.slice(0, 40).map((id) => instanceObs({ id, state: 'stopped' })), { source: 's', observedAtMs: Date.parse(at(2)) });
    await store.observeDeployments(['stack-1', 'stack-2'].map((id) => deploymentObs({ id })), { source: 's', observedAtMs: Date.parse(at(3)) });
    const served = async () => {
      const meta = async (doc: Promise<{ version: number; observedAtMs: number; observedAt: string; json: string } | null>) => {
        const { version, observedAtMs, observedAt, json } = (await doc)!;
        return { version, observedAtMs, observedAt, json };
      };
      return Promise.all([...ids.map((id) => meta(store.getInstanceForServe(id))), ...['stack-1', 'stack-2'].map((id) => meta(store.getDeploymentForServe(id)))]);
    };
    const before = await served();
    // Layout 3 left most records; the layout before w, some; layout 4 (this one), the rest.
    for (const [i, id] of ids.entries()) {
      if (i % 7 === 0) await asLayoutBeforeW(redis, `${prefix}i:${id}`);
      else if (i % 7 !== 1) await asLayout3(redis, `${prefix}i:${id}`);
    }
    await asLayout3(redis, `${prefix}d:stack-1`);
    const gateway = new Gateway({ config, logger: silentLogger(), modules: defaultModules() });
    gateways.push(gateway);
    await gateway.start();
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hkeys(`${prefix}i:${id}`);
    for (const [n, [, keys]] of (await pipeline.exec())!.entries()) {
      // m (misses) is a field of every layout; the layout before w kept it at '0'.
      const fields = (keys as string[]).filter((k) => k !== 'm').sort().join();
      if (fields !== 'bk,g,j,st,w') expect.fail(`${ids[n]}: ${String(keys)}`);
    }
    expect(await redis.hkeys(`${prefix}d:stack-1`)).to.have.members(['bk', 'g', 'j', 'st', 'w']);
    expect(await served()).to.deep.equal(before);
    expect(await redis.get(`${prefix}layout`)).to.equal(String(STORE_LAYOUT));
    await asLayout3(redis, `${prefix}i:i-0002`);
    await redis.zadd(`${prefix}s:stopped`, 0, 'i-0003');
    expect(await store.moveToLayout(STORE_LAYOUT), 'a later start moves nothing').to.deep.equal({ stateIds: 0, records: 0 });
  });

  it('marks a layout-4 store as this layout without walking its records: nothing it stored changes', async () => {
    const { redis, store, ids } = await freshStore();
    await store.observeInstances(ids.slice(0, 3).map((id) => instanceObs({ id })), { source: 's', observedAtMs: Date.parse(at(1)) });
    await redis.set(`${prefix}layout`, 4);
    // A record left as layout 3 would be rewritten by a walk; from layout 4 there is none.
    await asLayout3(redis, `${prefix}i:${ids[0]}`);
    expect(await store.moveToLayout(STORE_LAYOUT)).to.deep.equal({ stateIds: 0, records: 0 });
    expect(await redis.hexists(`${prefix}i:${ids[0]}`, 'v'), 'the record was not walked').to.equal(1);
    expect(await redis.get(`${prefix}layout`)).to.equal(String(STORE_LAYOUT));
  });

  it('starts beside replicas that read this layout, and says so in its own card', async () => {
    const { gateway, config } = await gatewayBeside({ version: '0.1.0', feedLayout: STORE_LAYOUT });
    await gateway.start();
    const registry = new ReplicaRegistry(testRedis(config.redis.url), prefix, 10_000);
    const cards = await waitFor(async () => {
      const alive = await registry.alive<{ id: string; feedLayout?: number }>(Date.now());
      return alive.length === 2 ? alive.map((r) => r.card) : undefined;
    }, { what: 'the new replica\'s card' });
    expect(cards!.map((c) => c.feedLayout)).to.deep.equal([STORE_LAYOUT, STORE_LAYOUT]);
  });
});
