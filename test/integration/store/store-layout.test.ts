import { expect } from 'chai';
import { Gateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/log/logger.js';
import { defaultModules } from '../../../src/modules.js';
import { STORE_LAYOUT } from '../../../src/store/store-layout.js';
import { ReplicaRegistry } from '../../../src/store/replica-registry.js';
import { StateStore } from '../../../src/store/state-store.js';
import type { InstanceState } from '../../../src/model/states.js';
import { instanceObs } from '../../helpers/observations.js';
import { pagedInstanceIds } from '../../helpers/store.js';
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

  it('refuses to start while a replica of an earlier version (no feedLayout in its card) is alive, naming it', async () => {
    const { gateway } = await gatewayBeside({ version: '0.1.0', host: 'old-host', pid: 4242 });
    let failure: Error | undefined;
    await gateway.start().catch((err: Error) => (failure = err));
    expect(failure?.message).to.match(/replica-1 \(version 0\.1\.0, host old-host, pid 4242\)/);
    expect(failure?.message).to.contain('Stop every replica of the earlier version');
  });

  it('refuses to start while a replica of store layout 2 (sets per state) is alive', async () => {
    const { gateway } = await gatewayBeside({ version: '0.2.0', host: 'old-host', pid: 4343, feedLayout: 2 });
    let failure: Error | undefined;
    await gateway.start().catch((err: Error) => (failure = err));
    expect(failure?.message).to.match(/replica-1 \(version 0\.2\.0, host old-host, pid 4343\)/);
  });

  it('moves the sets per state of layout 2 into the state index before serving, by each record\'s state now', async () => {
    const config = await testConfig();
    prefix = config.redis.keyPrefix;
    const redis = testRedis(config.redis.url);
    const store = new StateStore(redis, prefix, config.feed);
    const ids = Array.from({ length: 2_500 }, (_, i) => `i-${String(i).padStart(4, '0')}`);
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
