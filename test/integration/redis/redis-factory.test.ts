/**
 * The connection factory against a real redis-server: a connection that ioredis ends on its
 * own (a reconnect attempt cut short, as its Sentinel failover detector does mid-failover —
 * redis/ioredis#1683) is connected again; one closed on purpose stays closed. On an
 * auto-pipelined connection, `writeAtOnce` commands are not held behind the pipeline in flight.
 */
import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { silentLogger } from '../../../src/log/logger.js';
import { RedisFactory } from '../../../src/redis/redis-factory.js';
import { sharedRedisUrl, waitFor } from '../../helpers/redis.js';

/** Makes the connection's next connect attempt fail the way ioredis' cut-short attempt does. */
function cutShortNextConnect(redis: Redis): void {
  const connector = (redis as unknown as { connector: { connect: (...args: unknown[]) => Promise<unknown> } }).connector;
  const connect = connector.connect.bind(connector);
  connector.connect = () => {
    connector.connect = connect;
    return Promise.reject(new Error('Connection is closed.'));
  };
}

describe('RedisFactory', () => {
  let factory: RedisFactory;

  beforeEach(async () => {
    factory = new RedisFactory({ url: await sharedRedisUrl(), connectTimeoutMs: 1_000, commandTimeoutMs: 1_000, logger: silentLogger() });
  });
  afterEach(() => factory.closeAll());

  it('connects again a connection that ioredis ended after a cut-short reconnect', async () => {
    const redis = factory.create('revived');
    await waitFor(() => redis.status === 'ready', { what: 'ready' });
    cutShortNextConnect(redis);
    redis.disconnect(true);
    // Without the factory this connection would stay 'end' and refuse every command.
    await waitFor(() => redis.status === 'end', { what: 'ioredis ending the connection' });
    await waitFor(async () => (await redis.ping().catch(() => '')) === 'PONG', { what: 'PONG on the revived connection' });
    expect(factory.size).to.equal(1);
  });

  it('leaves closed what was closed on purpose', async () => {
    const a = factory.create('quit');
    const b = factory.create('disconnected');
    await waitFor(() => a.status === 'ready' && b.status === 'ready', { what: 'ready' });
    await a.quit();
    b.disconnect();
    await waitFor(() => a.status === 'end' && b.status === 'end', { what: 'both ended' });
    await new Promise((r) => setImmediate(r));
    expect(factory.size).to.equal(0);
    expect(a.status).to.equal('end');
  });

  it('writes a writeAtOnce command while an auto-pipeline is still waiting for its answer', async () => {
    // A reply deadline far past the test's own waits: the BLPOP is answered when the test says.
    await factory.closeAll();
    factory = new RedisFactory({ url: await sharedRedisUrl(), connectTimeoutMs: 1_000, commandTimeoutMs: 30_000, logger: silentLogger() });
    const redis = factory.create('at-once', { autoPipelining: true, writeAtOnce: ['incr'] });
    const observer = factory.create('observer');
    await waitFor(() => redis.status === 'ready' && observer.status === 'ready', { what: 'ready' });
    const key = `{hgw-test-at-once}:${process.pid}`;
    // A blocked read keeps the auto-pipeline that carries it in flight.
    const blocked = redis.blpop(`${key}:list`, 20);
    await waitFor(async () => /name=hgw:at-once .*cmd=blpop/.test(String(await observer.client('LIST'))), { what: 'the BLPOP blocked' });
    const counted = redis.incr(`${key}:n`);
    // Redis holds a blocked client's further input unread in its query buffer: the INCR is there
    // only if ioredis wrote it now (held for the next auto-pipeline, it would wait for the BLPOP).
    await waitFor(async () => /name=hgw:at-once .*qbuf=[1-9]/.test(String(await observer.client('LIST'))), { what: 'the INCR written behind the BLPOP' });
    await observer.rpush(`${key}:list`, 'go');
    expect(await blocked).to.deep.equal([`${key}:list`, 'go']);
    expect(await counted).to.equal(1);
    await observer.del(`${key}:n`);
  });
});
