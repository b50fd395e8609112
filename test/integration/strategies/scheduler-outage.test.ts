/**
 * A due time the strategy cannot write while Redis is away is not lost: it is written the
 * moment Redis is ready again, so a polled target never waits out a lease taken before the
 * outage (before, it stayed leased for 60 s after Redis returned).
 */
import { expect } from 'chai';
import { silentLogger } from '../../../src/log/logger.js';
import { RedisFactory } from '../../../src/redis/redis-factory.js';
import { Keys } from '../../../src/store/keys.js';
import { ScheduleStore } from '../../../src/store/schedule-store.js';
import { startRedisServer, testPrefix, waitFor, type RedisServer } from '../../helpers/redis.js';

describe('scheduler across a Redis outage', function () {
  this.timeout(30_000);
  let server: RedisServer;
  let factory: RedisFactory;
  let scheduler: ScheduleStore;

  before(async () => {
    server = await startRedisServer();
    factory = new RedisFactory({ url: server.url, connectTimeoutMs: 1_000, commandTimeoutMs: 500, logger: silentLogger() });
    scheduler = new ScheduleStore(factory.create('store'), new Keys(testPrefix()));
  });
  after(async () => {
    await factory.closeAll();
    await server.stop();
  });

  it('keeps due times set during the outage and writes them once Redis is back', async () => {
    await waitFor(async () => (await scheduler.dueTimes('set')).size === 0, { what: 'Redis ready' });
    await scheduler.takeDue('set', Date.now(), { limit: 10, leaseMs: 60_000 });
    await scheduler.setDue('set', 'leased', Date.now() + 60_000);
    await server.stop();
    // A poll that failed during the outage reschedules its target: no throw, kept in memory.
    const dueAt = Date.now() + 100;
    await scheduler.setDue('set', 'leased', dueAt);
    await scheduler.setDue('set', 'new', dueAt, { onlyIfAbsent: true });
    expect(scheduler.pendingDueCount).to.equal(2);
    await server.start();
    await waitFor(async () => (await scheduler.dueTimes('set').catch(() => new Map())).get('leased') === dueAt, { timeoutMs: 10_000, what: 'the kept due time written' });
    expect((await scheduler.dueTimes('set')).get('new')).to.equal(dueAt);
    expect(scheduler.pendingDueCount).to.equal(0);
  });
});
