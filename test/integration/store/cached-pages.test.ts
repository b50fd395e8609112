/**
 * Pages of all instances from the tracked read cache (src/store/cached-pages.ts) against a
 * real Redis: a page from memory is the page the Redis script answers, and it never shows a
 * replaced document, a removed or missing instance once the change's invalidation arrived —
 * nor anything cached before a flush, a Redis restart or the loss of the invalidation
 * connection.
 */
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { silentLogger } from '../../../src/log/logger.js';
import { LocalRedisServer } from '../../../src/redis/local-redis-server.js';
import { CacheReader, type InstanceQuery, type ServedPage } from '../../../src/store/cache-reader.js';
import { TrackedReadCache } from '../../../src/store/read-cache.js';
import { trackedReadKeys } from '../../../src/store/stores.js';
import { StateStore } from '../../../src/store/state-store.js';
import { instanceObs } from '../../helpers/observations.js';
import { testPrefix, waitFor } from '../../helpers/redis.js';

const ids = (page: ServedPage) => page.items.map((item) => `${item.id}@${item.version}`);

describe('cached pages of instances (real Redis, CLIENT TRACKING)', function () {
  this.timeout(60_000);
  let server: LocalRedisServer;
  let other: Redis;
  let reads: Redis;
  let listeners: Redis[];
  let cache: TrackedReadCache;
  let reader: CacheReader;
  /** The same Redis without the cache: what the script answers. */
  let plain: CacheReader;
  let writer: StateStore;
  let prefix: string;

  before(async () => {
    // A private server: these tests flush and restart it.
    server = await LocalRedisServer.start();
  });
  after(() => server.stop());

  beforeEach(async () => {
    prefix = testPrefix();
    other = new Redis(server.url);
    reads = new Redis(server.url, { enableAutoPipelining: true });
    listeners = [];
    cache = new TrackedReadCache(
      reads,
      () => {
        const listener = new Redis(server.url, { protocol: 2 });
        listeners.push(listener);
        return listener;
      },
      silentLogger(),
      trackedReadKeys(prefix),
    );
    reader = new CacheReader(reads, prefix, cache);
    plain = new CacheReader(other, prefix);
    // Another connection writes, as another replica or this replica's strategy would.
    writer = new StateStore(other, prefix, { maxLength: 10_000, maxAgeMs: 86_400_000 });
    await cache.start();
    expect(cache.stats().tracking).to.equal(true);
  });

  afterEach(async () => {
    await cache.stop();
    for (const listener of listeners) listener.disconnect();
    reads.disconnect();
    other.disconnect();
  });

  const observe = (id: string, name = 'web') => writer.observeInstance(instanceObs({ id, name }), { source: 'test' });
  /** Waits until a change made after `before` was announced. */
  const announced = (before: number) => waitFor(() => cache.stats().invalidations > before, { what: 'the invalidation' });
  /** Reads the same page until it comes from memory; returns it. */
  async function fromMemory(query: InstanceQuery): Promise<ServedPage> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const before = reader.pages!.figures.fromMemory;
      const page = await reader.listInstancesForServe(query);
      if (reader.pages!.figures.fromMemory > before) return page;
    }
    throw new Error('the page never came from memory');
  }

  it('answers from memory exactly what the Redis script answers, for any cursor, limit and tombstones', async () => {
    // Lex order in bytes: 'é' (U+00E9) < '' (U+F8FF) < '😀' (a surrogate pair in UTF-16).
    const all = ['a', 'a-1', 'b', 'srv-01', 'srv-02', 'srv-10', 'srv-é', 'srv-\uF8FF', 'srv-😀', 'z'];
    for (const id of all) await observe(id);
    await writer.vanishInstances(['srv-02', 'z'], { source: 'test' });
    const cursors = [undefined, '', 'a', 'a-0', 'srv-01', 'srv-02', 'srv-1', 'srv-é', 'srv-\uF8FF', 'srv-😀', 'y', 'zz'];
    for (const includeDeleted of [false, true]) {
      for (const limit of [1, 2, 3, 100]) {
        for (const cursor of cursors) {
          const query: InstanceQuery = { limit, includeDeleted, ...(cursor ? { cursor } : {}) };
          const expected = await plain.listInstancesForServe(query);
          const got = await fromMemory(query);
          const what = JSON.stringify(query);
          expect(ids(got), what).to.deep.equal(ids(expected));
          expect(got.next, what).to.equal(expected.next);
          expect(got.items.map((i) => i.json), what).to.deep.equal(expected.items.map((i) => i.json));
        }
      }
    }
  });

  it('never shows a replaced document, an instance added or one vanished, once the change is announced', async () => {
    for (const id of ['srv-1', 'srv-2', 'srv-3']) await observe(id);
    const query = { limit: 10 };
    expect(ids(await fromMemory(query))).to.deep.equal(ids(await plain.listInstancesForServe(query)));
    const changes: [string, () => Promise<unknown>][] = [
      ['a changed document', () => observe('srv-2', 'renamed')],
      ['an instance added', () => observe('srv-0')],
      ['an instance vanished', () => writer.vanishInstances(['srv-3'], { source: 'test' })],
      ['an instance removed from the index', () => other.zrem(`${prefix}idx:i`, 'srv-1')],
    ];
    for (const [what, change] of changes) {
      await fromMemory(query);
      const before = cache.stats().invalidations;
      await change();
      await announced(before);
      const page = await reader.listInstancesForServe(query);
      expect(ids(page), what).to.deep.equal(ids(await plain.listInstancesForServe(query)));
      expect(page.items.map((i) => i.json), what).to.deep.equal((await plain.listInstancesForServe(query)).items.map((i) => i.json));
    }
  });

  it('reads pages from Redis, still right, when the index has more ids than the cache keeps', async () => {
    const smallReads = new Redis(server.url, { enableAutoPipelining: true });
    const small = new TrackedReadCache(smallReads, () => new Redis(server.url, { protocol: 2 }), silentLogger(), {
      ...trackedReadKeys(prefix),
      maxEntries: 3,
    });
    try {
      await small.start();
      const smallReader = new CacheReader(smallReads, prefix, small);
      for (const id of ['srv-1', 'srv-2', 'srv-3', 'srv-4']) await observe(id);
      for (let i = 0; i < 3; i++) {
        const page = await smallReader.listInstancesForServe({ limit: 2, cursor: 'srv-1' });
        expect(ids(page)).to.deep.equal(ids(await plain.listInstancesForServe({ limit: 2, cursor: 'srv-1' })));
      }
      expect(smallReader.pages!.figures).to.deep.equal({ fromMemory: 0, fromRedis: 3 });
      expect(small.stats().entries).to.be.at.most(3);
    } finally {
      await small.stop();
      smallReads.disconnect();
    }
  });

  it('shows a recorded refresh failure on the next page', async () => {
    await observe('srv-1');
    expect((await fromMemory({ limit: 10 })).failures.size).to.equal(0);
    const flushes = cache.stats().flushes;
    await other.hset(`${prefix}refresh-failures`, 'b:heat-1', JSON.stringify({ at: 'now', strategy: 'cached-poll', reason: 'down' }));
    await waitFor(() => cache.stats().flushes > flushes, { what: 'the flush' });
    expect([...(await reader.listInstancesForServe({ limit: 10 })).failures.keys()]).to.deep.equal(['b:heat-1']);
  });

  it('keeps nothing read in bulk while a change was announced during the read', async () => {
    await observe('srv-1');
    const ticket = cache.ticket();
    const before = cache.stats().invalidations;
    await observe('srv-1', 'changed');
    await announced(before);
    expect(cache.keepAll([[`${prefix}i:srv-1`, 'stale']], ticket)).to.equal(false);
    expect(cache.peek(`${prefix}i:srv-1`)).to.equal(undefined);
    expect(cache.keepAll([[`${prefix}i:srv-1`, 'fresh']], cache.ticket())).to.equal(true);
  });

  it('after FLUSHALL, shows an empty cache', async () => {
    for (const id of ['srv-1', 'srv-2']) await observe(id);
    expect(ids(await fromMemory({ limit: 10 }))).to.have.length(2);
    const flushes = cache.stats().flushes;
    await other.flushall();
    await waitFor(() => cache.stats().flushes > flushes, { what: 'the flush' });
    expect((await reader.listInstancesForServe({ limit: 10 })).items).to.deep.equal([]);
  });

  it('after the invalidation connection is lost, or Redis restarts, shows what changed meanwhile', async () => {
    for (const id of ['srv-1', 'srv-2']) await observe(id);
    await fromMemory({ limit: 10 });
    let flushes = cache.stats().flushes;
    await other.client('KILL', 'ID', String(cache.listenerId));
    await waitFor(() => cache.stats().flushes > flushes, { what: 'the flush on connection loss' });
    // Changed while no invalidation could arrive.
    await observe('srv-2', 'meanwhile');
    await waitFor(() => cache.stats().tracking, { what: 'tracking back on' });
    const page = await fromMemory({ limit: 10 });
    expect(JSON.parse(page.items[1]!.json).name).to.equal('meanwhile');

    // Redis restarts empty (no persistence here): nothing cached before may show.
    flushes = cache.stats().flushes;
    await server.stop();
    await waitFor(() => cache.stats().flushes > flushes, { what: 'the flush on connection loss' });
    await server.start();
    await waitFor(() => cache.stats().tracking, { what: 'tracking back on', timeoutMs: 20_000 });
    await observe('srv-9');
    expect(ids(await reader.listInstancesForServe({ limit: 10 })).map((v) => v.split('@')[0])).to.deep.equal(['srv-9']);
    expect(ids(await fromMemory({ limit: 10 })).map((v) => v.split('@')[0])).to.deep.equal(['srv-9']);
  });
});
