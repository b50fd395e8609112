/**
 * The reads' client-side cache (CLIENT TRACKING) against a real Redis: a change written by
 * another connection (another replica, a strategy) is never served once its invalidation
 * has arrived, reads racing writes converge on the newest version, and losing the
 * invalidation connection flushes the cache.
 */
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { silentLogger } from '../../../src/log/logger.js';
import { CacheReader, type ServedDoc } from '../../../src/store/cache-reader.js';
import { TrackedReadCache } from '../../../src/store/read-cache.js';
import { trackedReadKeys } from '../../../src/store/stores.js';
import { StateStore } from '../../../src/store/state-store.js';
import { instanceObs } from '../../helpers/observations.js';
import { sharedRedisUrl, useRedis, waitFor } from '../../helpers/redis.js';
import { bearer, TOKENS } from '../../helpers/gateway.js';
import { send, startApiGateway } from '../api/api-test-helpers.js';

describe('tracked read cache (real Redis, CLIENT TRACKING)', function () {
  this.timeout(30_000);
  const ctx = useRedis();
  let reads: Redis;
  let listeners: Redis[];
  let cache: TrackedReadCache;
  let reader: CacheReader;
  let writer: StateStore;

  beforeEach(async () => {
    reads = new Redis(ctx.url, { enableAutoPipelining: true });
    listeners = [];
    cache = new TrackedReadCache(reads, () => {
      const listener = new Redis(ctx.url, { protocol: 2 });
      listeners.push(listener);
      return listener;
    }, silentLogger(), trackedReadKeys(ctx.prefix));
    reader = new CacheReader(reads, ctx.prefix, cache);
    // Another connection writes, as another replica or this replica's strategy would.
    writer = new StateStore(ctx.redis, ctx.prefix, { maxLength: 10_000, maxAgeMs: 86_400_000 });
    await cache.start();
    expect(cache.stats().tracking).to.equal(true);
  });

  afterEach(async () => {
    await cache.stop();
    for (const listener of listeners) listener.disconnect();
    reads.disconnect();
  });

  const write = async (name: string) => {
    return (await writer.observeInstance(instanceObs({ id: 'srv-1', name }), { source: 'test' })).version;
  };

  it('serves a hot read from memory and never the replaced value once the invalidation is in', async () => {
    let version = await write('web-0');
    expect((await reader.getInstanceForServe('srv-1'))!.version).to.equal(version);
    const hits = cache.stats().hits;
    expect((await reader.getInstanceForServe('srv-1'))!.version).to.equal(version);
    expect(cache.stats().hits).to.equal(hits + 1);

    for (let i = 1; i <= 30; i++) {
      const invalidations = cache.stats().invalidations;
      // Cached now (a read since the last change).
      await reader.getInstanceForServe('srv-1');
      const replaced = version;
      version = await write(`web-${i}`);
      expect(version).to.be.greaterThan(replaced);
      // Acknowledged; wait for the invalidation to be delivered (no sleeping).
      await waitFor(() => cache.stats().invalidations > invalidations, { what: 'the invalidation' });
      const doc = await reader.getInstanceForServe('srv-1');
      expect(doc!.version, `after write ${i}`).to.equal(version);
      expect(JSON.parse(doc!.json).name).to.equal(`web-${i}`);
    }
  });

  it('reads racing writes never keep a replaced value: they converge on the newest version', async () => {
    let last = await write('w-0');
    const served: number[] = [];
    for (let i = 1; i <= 200; i++) {
      // Reads in flight while the write lands, on the other connection.
      for (let r = 0; r < 3; r++) void reader.getInstanceForServe('srv-1').then((d) => served.push(d!.version));
      last = await write(`w-${i}`);
    }
    await waitFor(async () => (await reader.getInstanceForServe('srv-1'))!.version === last, { what: 'the newest version to be served' });
    for (let r = 0; r < 20; r++) expect((await reader.getInstanceForServe('srv-1'))!.version).to.equal(last);
    expect(served.length).to.be.greaterThan(0);
  });

  it('flushes everything when the invalidation connection is lost, and serves changes made meanwhile', async () => {
    const before = await write('a');
    await reader.getInstanceForServe('srv-1');
    expect(cache.stats().entries).to.equal(1);
    const flushes = cache.stats().flushes;
    const id = cache.listenerId!;
    await ctx.redis.client('KILL', 'ID', String(id));
    await waitFor(() => cache.stats().flushes > flushes, { what: 'the flush on connection loss' });
    expect(cache.stats().entries).to.equal(0);
    // Changed while no invalidation could arrive: the next read must see it.
    const after = await write('b');
    expect(after).to.be.greaterThan(before);
    expect((await reader.getInstanceForServe('srv-1'))!.version).to.equal(after);
    // Tracking comes back on a fresh connection and caching resumes, still true.
    await waitFor(() => cache.stats().tracking && cache.listenerId !== id, { what: 'tracking back on' });
    expect((await reader.getInstanceForServe('srv-1'))!.version).to.equal(after);
    const invalidations = cache.stats().invalidations;
    const latest = await write('c');
    await waitFor(() => cache.stats().invalidations > invalidations, { what: 'the invalidation' });
    expect((await reader.getInstanceForServe('srv-1'))!.version).to.equal(latest);
  });

  it('empties itself when a refresh failure (carried by every served instance) is recorded', async () => {
    await write('a');
    expect((await reader.getInstanceForServe('srv-1'))!.failures?.size ?? 0).to.equal(0);
    expect(cache.stats().entries).to.equal(1);
    const flushes = cache.stats().flushes;
    await ctx.redis.hset(`${ctx.prefix}refresh-failures`, 'b:heat-1', JSON.stringify({ at: 1, error: 'down' }));
    await waitFor(() => cache.stats().flushes > flushes, { what: 'the flush' });
    expect(cache.stats().entries).to.equal(0);
  });

  it('flushes when the reads connection is lost and tracks again on reconnect', async () => {
    await write('a');
    await reader.getInstanceForServe('srv-1');
    expect(cache.stats().entries).to.equal(1);
    const readsId = Number(await reads.client('ID'));
    await ctx.redis.client('KILL', 'ID', String(readsId));
    await waitFor(() => cache.stats().entries === 0, { what: 'the flush' });
    const latest = await write('b');
    expect((await reader.getInstanceForServe('srv-1'))!.version).to.equal(latest);
    await waitFor(() => cache.stats().tracking, { what: 'tracking back on' });
    await reader.getInstanceForServe('srv-1');
    const invalidations = cache.stats().invalidations;
    const newest = await write('c');
    await waitFor(() => cache.stats().invalidations > invalidations, { what: 'the invalidation' });
    expect((await reader.getInstanceForServe('srv-1'))!.version).to.equal(newest);
  });
});

describe('tracked read cache in a gateway: another replica changes an instance', function () {
  this.timeout(30_000);

  it('serves GET /v1/instances/:id from memory, and the new version once the change is announced', async () => {
    const { gateway, url } = await startApiGateway();
    const other = new Redis(await sharedRedisUrl());
    try {
      // Another replica (its own connection) writes the cache.
      const replica = new StateStore(other, gateway.stores.keys.prefix, { maxLength: 10_000, maxAgeMs: 86_400_000 });
      await replica.observeInstance(instanceObs({ id: 'srv-1', name: 'one' }), { source: 'test' });
      const cache = gateway.stores.readCache!;
      await waitFor(() => cache.stats().tracking, { what: 'tracking on' });
      const get = async () => (await send(url, 'GET', '/v1/instances/srv-1', bearer(TOKENS.client))).json.data as { name: string; version: number };
      expect((await get()).name).to.equal('one');
      const hits = cache.stats().hits;
      expect((await get()).name).to.equal('one');
      expect(cache.stats().hits).to.equal(hits + 1);
      const invalidations = cache.stats().invalidations;
      await replica.observeInstance(instanceObs({ id: 'srv-1', name: 'two' }), { source: 'test' });
      await waitFor(() => cache.stats().invalidations > invalidations, { what: 'the invalidation' });
      expect((await get()).name).to.equal('two');
    } finally {
      other.disconnect();
      await gateway.stop();
    }
  });
});
