/**
 * Tombstones and honest staleness (DESIGN §10): a deleted deployment or vanished instance is
 * kept for feed.tombstoneTtlMs, left out of list reads unless asked for, never makes a list
 * stale, and is purged with its index entries after the TTL; a scope whose last refresh
 * failed is served stale at once, with the reason, and fresh again once it recovers.
 */
import { expect } from 'chai';
import type { Gateway } from '../../../src/gateway.js';
import { bearer, testConfig, TOKENS } from '../../helpers/gateway.js';
import { deploymentObs, instanceObs } from '../../helpers/observations.js';
import { testRedis, waitFor } from '../../helpers/redis.js';
import { prefixPattern } from '../../../src/store/delete-prefix.js';
import { FakeStrategy, send, startApiGateway } from './api-test-helpers.js';

const client = bearer(TOKENS.client);
const ids = (res: { json: { data: { id: string }[] } }) => res.json.data.map((d) => d.id);

describe('Conductor API: tombstones and staleness', () => {
  let gateway: Gateway;
  let url: string;
  let strategy: FakeStrategy;
  let clock: number;
  let config: Awaited<ReturnType<typeof testConfig>>;
  const ctx = { source: 'cached-poll' };

  beforeEach(async () => {
    clock = Date.UTC(2026, 10, 25, 12, 0, 0);
    config = await testConfig({ feed: { tombstoneTtlMs: 60_000 }, backends: [{ id: 'heat-1', kind: 'heat', endpoint: 'http://127.0.0.1:9/v1/t', token: 'x' }] });
    ({ gateway, url, strategy } = await startApiGateway({ config, now: () => clock }));
    strategy.staleMs = 10_000;
    // Two live deployments with an instance each; one deployment deleted with its instance.
    await gateway.store.observeDeployments([deploymentObs({ id: 'd-live', status: 'CREATE_COMPLETE' }), deploymentObs({ id: 'd-gone', status: 'CREATE_COMPLETE' })], { ...ctx, observedAtMs: clock });
    await gateway.store.observeInstances(
      [instanceObs({ id: 'i-live', deploymentId: 'd-live' }), instanceObs({ id: 'i-gone', deploymentId: 'd-gone' })],
      { ...ctx, observedAtMs: clock },
    );
    clock += 1_000;
    await gateway.store.deleteDeployments(['d-gone'], 'test deletion', { ...ctx, observedAtMs: clock });
    await gateway.store.vanishInstances(['i-gone'], { ...ctx, observedAtMs: clock });
  });
  afterEach(() => gateway.stop());

  it('leaves tombstones out of list reads unless asked for', async () => {
    expect(ids(await send(url, 'GET', '/v1/deployments', client))).to.deep.equal(['d-live']);
    expect(ids(await send(url, 'GET', '/v1/instances', client))).to.deep.equal(['i-live']);
    expect(ids(await send(url, 'GET', '/v1/deployments/d-gone/instances', client))).to.deep.equal([]);

    expect(ids(await send(url, 'GET', '/v1/deployments?include=deleted', client))).to.deep.equal(['d-gone', 'd-live']);
    expect(ids(await send(url, 'GET', '/v1/deployments?status=DELETE_COMPLETE', client))).to.deep.equal(['d-gone']);
    expect(ids(await send(url, 'GET', '/v1/instances?state=vanished', client))).to.deep.equal(['i-gone']);
    expect(ids(await send(url, 'GET', '/v1/instances?include=deleted', client))).to.deep.equal(['i-gone', 'i-live']);
    expect(ids(await send(url, 'GET', '/v1/deployments/d-gone/instances?include=deleted', client))).to.deep.equal(['i-gone']);
    // A late reader still learns what became of it.
    expect((await send(url, 'GET', '/v1/instances/i-gone', client)).json.data.state).to.equal('vanished');
    expect((await send(url, 'GET', '/v1/deployments/d-gone', client)).json.data.status).to.equal('DELETE_COMPLETE');
  });

  it('never counts a tombstone in a list\'s staleness', async () => {
    // The live records are refreshed; the tombstones are never observed again and grow old.
    clock += 30_000;
    await gateway.store.observeDeployments([deploymentObs({ id: 'd-live', status: 'CREATE_COMPLETE' })], { ...ctx, observedAtMs: clock });
    await gateway.store.observeInstances([instanceObs({ id: 'i-live', deploymentId: 'd-live' })], { ...ctx, observedAtMs: clock });
    for (const path of ['/v1/deployments?include=deleted', '/v1/instances?include=deleted', '/v1/deployments', '/v1/instances', '/v1/instances?state=vanished', '/v1/instances/i-gone']) {
      const res = await send(url, 'GET', path, client);
      expect(res.json.meta.stale, `${path}: ${JSON.stringify(res.json.meta)}`).to.equal(false);
    }
    // A live record past the bound is still stale.
    clock += 20_000;
    expect((await send(url, 'GET', '/v1/instances', client)).json.meta.stale).to.equal(true);
  });

  it('purges a tombstone and its index entries after feed.tombstoneTtlMs, and nothing else', async () => {
    const keys = async () => (await testRedis(gateway.config.redis.url).keys(prefixPattern(gateway.config.redis.keyPrefix))).sort();
    expect(await gateway.store.tombstones.count()).to.equal(2);
    expect(await gateway.store.tombstones.purge(clock - 60_001)).to.equal(0);
    clock += 60_000;
    expect(await gateway.store.tombstones.purge(clock - 60_000)).to.equal(2);
    expect(await gateway.store.getDeployment('d-gone')).to.equal(null);
    expect(await gateway.store.getInstance('i-gone')).to.equal(null);
    expect(ids(await send(url, 'GET', '/v1/instances?include=deleted', client))).to.deep.equal(['i-live']);
    expect(ids(await send(url, 'GET', '/v1/deployments?include=deleted', client))).to.deep.equal(['d-live']);
    const p = gateway.config.redis.keyPrefix;
    for (const index of ['idx:i', 'idx:d', 's:vanished', 'b:heat-1:i', 'b:heat-1:d', 'd:d-gone:i', 'tomb']) {
      expect(await testRedis(gateway.config.redis.url).zrange(`${p}${index}`, 0, '-1'), index).to.not.include.members(['i-gone', 'd-gone', 'i:i-gone', 'd:d-gone']);
    }
    expect(await keys()).to.not.include(`${p}i:i-gone`);
    expect(await gateway.store.getInstance('i-live')).to.not.equal(null);
  });

  describe('deleted records an earlier version left out of the tombstone index', () => {
    // Versions before tombstones marked a deleted record (x = '1') without indexing it, so no
    // purge ever met it, and a live one x = '0'.
    const leaveAsEarlierVersion = async () => {
      const p = gateway.config.redis.keyPrefix;
      await testRedis(gateway.config.redis.url).zrem(`${p}tomb`, 'i:i-gone', 'd:d-gone');
      await testRedis(gateway.config.redis.url).hset(`${p}i:i-live`, 'x', '0');
    };

    it('indexes them by their last observation (once), and they expire like any tombstone', async () => {
      await leaveAsEarlierVersion();
      const deletedAt = String(clock);
      expect(await gateway.store.tombstones.count()).to.equal(0);
      // One record per script call, so the index is paged through.
      expect(await gateway.store.tombstones.adoptUnindexed({ batch: 1 })).to.equal(2);
      const tomb = await testRedis(gateway.config.redis.url).zrange(`${gateway.config.redis.keyPrefix}tomb`, '0', '-1', 'WITHSCORES');
      expect(tomb).to.deep.equal(['d:d-gone', deletedAt, 'i:i-gone', deletedAt]);
      expect(await gateway.store.tombstones.adoptUnindexed()).to.equal(0);
      clock += 60_000;
      expect(await gateway.store.tombstones.sweep(clock - 60_000)).to.deep.equal({ indexed: 0, purged: 2 });
      expect(await gateway.store.getInstance('i-gone')).to.equal(null);
      expect(await gateway.store.getDeployment('d-gone')).to.equal(null);
      expect(await gateway.store.getInstance('i-live')).to.not.equal(null);
    });

    it('a starting gateway indexes them in its first sweep', async () => {
      await leaveAsEarlierVersion();
      await gateway.stop();
      ({ gateway, url, strategy } = await startApiGateway({ config, now: () => clock }));
      await waitFor(async () => (await gateway.store.tombstones.count()) === 2, { what: 'the first sweep to index the 2 deleted records' });
    });
  });

  it('a revived record leaves the tombstone index and is never purged', async () => {
    clock += 1_000;
    await gateway.store.observeInstances([instanceObs({ id: 'i-gone', deploymentId: 'd-gone', state: 'running' })], { ...ctx, observedAtMs: clock });
    clock += 120_000;
    await gateway.store.tombstones.purge(clock - 60_000);
    expect((await gateway.store.getInstance('i-gone'))!.state).to.equal('running');
  });

  it('serves a scope stale at once when its last refresh failed, and fresh once it succeeds', async () => {
    const health = gateway.store.refreshHealth;
    await health.failed({ backendId: 'heat-1' }, 'cached-poll', 'heat-1: connect ECONNREFUSED');
    for (const path of ['/v1/instances/i-live', '/v1/deployments/d-live', '/v1/instances', '/v1/deployments', '/v1/deployments/d-live/instances']) {
      const res = await send(url, 'GET', path, client);
      expect(res.json.meta.stale, path).to.equal(true);
      expect(res.json.meta.staleReason, path).to.match(/last refresh of backend heat-1 by cached-poll failed at .*ECONNREFUSED/);
    }
    // A failure recorded by another strategy (switched away from) says nothing about this one.
    await health.succeeded({ backendId: 'heat-1' });
    await health.failed({ deploymentId: 'd-live' }, 'webhook', 'old');
    expect((await send(url, 'GET', '/v1/instances/i-live', client)).json.meta.stale).to.equal(false);
    // A deployment's failure covers it and its instances, not other deployments.
    await health.failed({ deploymentId: 'd-live' }, 'cached-poll', 'HTTP 500');
    expect((await send(url, 'GET', '/v1/instances/i-live', client)).json.meta.staleReason).to.match(/deployment d-live .*HTTP 500/);
    expect((await send(url, 'GET', '/v1/deployments/d-live/instances', client)).json.meta.stale).to.equal(true);
    expect((await send(url, 'GET', '/v1/instances/i-gone', client)).json.meta.stale).to.equal(false);
    await health.succeeded({ deploymentId: 'd-live' });
    for (const path of ['/v1/instances/i-live', '/v1/instances', '/v1/deployments/d-live/instances']) {
      expect((await send(url, 'GET', path, client)).json.meta, path).to.not.have.property('staleReason');
    }
  });
});
