/**
 * Fan-out takeover with real processes: two `heat-gateway start` replicas on one Redis. The
 * leader is SIGKILLed while one of its deliveries is in flight; fan-out resumes on the other
 * replica within 2 s, and the abandoned delivery is re-sent within 5 s with the same
 * webhook-id (at least once).
 */
import type { ServerResponse } from 'node:http';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { StateStore } from '../../src/store/state-store.js';
import { toEntry } from '../../src/store/change-feed.js';
import type { LocalRedisServer } from '../../src/redis/local-redis-server.js';
import { instanceObs } from '../helpers/observations.js';
import { testPrefix, waitFor } from '../helpers/redis.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';
import { aofRedis, call, get, startGatewayChild, TOKENS, type GatewayChild } from './harness.js';

describe('resilience: fan-out leader killed (real processes)', function () {
  this.timeout(90_000);
  let redis: LocalRedisServer;
  let client: Redis;
  let receiver: Receiver;
  const gateways: GatewayChild[] = [];
  const held: ServerResponse[] = [];
  const prefix = testPrefix();

  before(async () => {
    redis = await aofRedis();
    client = new Redis(redis.url);
    // The first delivery of the first event is held open: it is in flight when its sender dies.
    let holding = true;
    receiver = await startReceiver((_r, res) => {
      if (holding) {
        holding = false;
        held.push(res);
        return;
      }
      res.writeHead(204).end();
    });
  });

  after(async () => {
    for (const g of gateways) await g.cli.stop('SIGKILL');
    for (const res of held) res.destroy();
    await receiver?.close();
    client?.disconnect();
    await redis?.stop();
  });

  it('resumes fan-out within 2 s of the leader\'s SIGKILL and re-sends its abandoned delivery within 5 s, same webhook-id', async () => {
    const store = new StateStore(client, prefix, { maxLength: 10_000, maxAgeMs: 86_400_000 });
    // The held request must not time out (and be retried by A itself) before A is killed, on
    // however slow a machine: then only a takeover can send it again.
    const config = { webhooks: { allowNetworks: ['127.0.0.0/8'], retryScheduleMs: [0, 500, 1_000, 2_000, 4_000], timeoutMs: 60_000 } };
    const a = await startGatewayChild({ redisUrl: redis.url, prefix, config });
    gateways.push(a);
    await waitFor(async () => (await get(a.url, '/readyz')).status === 200, { timeoutMs: 15_000, what: 'replica A ready' });
    const created = await call(a.url, 'POST', '/v1/webhooks', TOKENS.client, { url: `${receiver.url}/hook` });
    expect(created.status, created.text).to.equal(201);

    // Replica A alone: it leads fan-out, and its worker takes the first delivery, which hangs.
    const first = await store.observeInstance(instanceObs({ id: 'srv-a' }), { source: 'test' });
    await waitFor(() => held.length === 1, { timeoutMs: 10_000, what: 'the first delivery in flight' });
    const firstId = receiver.received[0]!.headers['webhook-id']!;

    const b = await startGatewayChild({ redisUrl: redis.url, prefix, config });
    gateways.push(b);
    await waitFor(async () => (await get(b.url, '/readyz')).status === 200, { timeoutMs: 15_000, what: 'replica B ready' });
    const leader = await client.get(`${prefix}wh:lead`);
    expect(leader, 'replica A leads').to.contain(`-${a.cli.child.pid}-`);

    a.cli.child.kill('SIGKILL');
    const killedAt = performance.now();
    const second = await store.observeInstance(instanceObs({ id: 'srv-b' }), { source: 'test' });
    expect(first.cursor && second.cursor).to.be.a('string');
    const [secondEntry] = await client.xrange(`${prefix}feed`, second.cursor!, second.cursor!);
    const secondEventId = JSON.parse(toEntry(...secondEntry!).json).id as string;

    // Fan-out has resumed when the surviving replica has made the delivery of an event
    // appended after the kill (the delivery record exists); receipt follows through the queue.
    const hook = created.json.id as string;
    await waitFor(async () => (await get(b.url, `/v1/webhooks/${hook}/deliveries/${secondEventId}`, TOKENS.client)).status === 200, {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: 'the delivery of the event appended after the kill',
    });
    const resumedMs = Math.round(performance.now() - killedAt);
    await waitFor(() => receiver.received.some((r) => r.headers['webhook-id'] === secondEventId), { timeoutMs: 10_000, what: 'the event appended after the kill' });
    await waitFor(() => receiver.received.filter((r) => r.headers['webhook-id'] === firstId).length >= 2, { timeoutMs: 15_000, what: 'the abandoned delivery re-sent' });
    const resentMs = Math.round(performance.now() - killedAt);
    console.log(`      (fan-out resumed ${resumedMs} ms and the abandoned delivery was re-sent ${resentMs} ms after the SIGKILL)`);
    expect(resumedMs).to.be.below(2_000);
    expect(resentMs).to.be.below(5_000);
    // Still exactly the endpoint's events, each with its own id; the repeat carries the same one.
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id']))).to.deep.equal(new Set([firstId, secondEventId]));
  });
});
