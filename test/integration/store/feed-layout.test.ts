import { expect } from 'chai';
import { Gateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/log/logger.js';
import { defaultModules } from '../../../src/modules.js';
import { FEED_LAYOUT } from '../../../src/store/feed-layout.js';
import { ReplicaRegistry } from '../../../src/store/replica-registry.js';
import { testConfig } from '../../helpers/gateway.js';
import { deletePrefix, testRedis, waitFor } from '../../helpers/redis.js';

describe('feed layout across an upgrade', () => {
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

  it('starts beside replicas that read this layout, and says so in its own card', async () => {
    const { gateway, config } = await gatewayBeside({ version: '0.1.0', feedLayout: FEED_LAYOUT });
    await gateway.start();
    const registry = new ReplicaRegistry(testRedis(config.redis.url), prefix, 10_000);
    const cards = await waitFor(async () => {
      const alive = await registry.alive<{ id: string; feedLayout?: number }>(Date.now());
      return alive.length === 2 ? alive.map((r) => r.card) : undefined;
    }, { what: 'the new replica\'s card' });
    expect(cards!.map((c) => c.feedLayout)).to.deep.equal([FEED_LAYOUT, FEED_LAYOUT]);
  });
});
