/**
 * Where a delivery's body lives: under a key of its own while the delivery may still be sent,
 * so the record itself stays a small listpack; dropped once delivered when the feed holds the
 * event, and rebuilt from the feed entry, byte for byte, for a redelivery. A body that is not
 * in the feed (a test event) is kept. The fan-out's own attempt writes none: it holds the
 * body, and writes it with the attempt only when the delivery must be sent again; a job that
 * finds none (the attempt died unrecorded) rebuilds it from the feed.
 */
import { expect } from 'chai';
import { WebhookKeys } from '../../../src/store/webhook-keys.js';
import { DeliveryQueue } from '../../../src/webhooks/delivery-queue.js';
import { testRedis, waitFor } from '../../helpers/redis.js';
import { verify } from '../../helpers/webhook-receiver.js';
import { startHarness, type Harness } from './webhook-harness.js';

describe('webhook delivery bodies', function () {
  this.timeout(30_000);
  let h: Harness;
  afterEach(() => h?.stop());

  const keysOf = (harness: Harness) => new WebhookKeys(harness.gateway.config.redis.keyPrefix);
  const redisOf = (harness: Harness) => testRedis(harness.gateway.config.redis.url);

  /** A fresh gateway with one endpoint, and one feed event delivered to it. */
  async function deliveredEvent() {
    h = await startHarness();
    const receiver = await h.receiver();
    const hook = await h.register({ url: receiver.url });
    const [event] = (await h.append(1)) as [string];
    await waitFor(async () => (await h.call('GET', `/v1/webhooks/${hook.id}/deliveries/${event}`)).json.status === 'delivered', { what: 'delivered' });
    return { receiver, hook, event };
  }

  it('drops a delivered body the feed holds, keeps the record a listpack, and redelivers the same bytes', async () => {
    const { receiver, hook, event } = await deliveredEvent();

    const k = keysOf(h);
    const redis = redisOf(h);
    expect(await redis.exists(k.body(hook.id, event)), 'body key after delivery').to.equal(0);
    const record = k.delivery(hook.id, event);
    expect(await redis.hget(record, 'cu')).to.match(/^\d+-\d+$/);
    expect(await redis.hexists(record, 'body')).to.equal(0);
    expect(await redis.object('ENCODING', record)).to.equal('listpack');
    expect(Number(await redis.memory('USAGE', record, 'SAMPLES', 0))).to.be.below(500);
    const view = (await h.call('GET', `/v1/webhooks/${hook.id}/deliveries/${event}`)).json;
    expect(view).to.include({ status: 'delivered', attempts: 1, totalAttempts: 1, run: 0, lastStatus: 204, lastError: null, subject: 'srv-1', eventType: 'instance.updated' });

    const again = await h.call('POST', `/v1/webhooks/${hook.id}/deliveries/${event}/redeliver`);
    expect(again.status, JSON.stringify(again.json)).to.equal(202);
    await waitFor(() => receiver.received.length === 2, { what: 'redelivery' });
    const [first, second] = receiver.received;
    expect(second!.body).to.equal(first!.body);
    expect(second!.headers['webhook-id']).to.equal(event);
    verify(hook.secret, second!);
    // Delivered again: dropped again.
    await waitFor(async () => (await h.call('GET', `/v1/webhooks/${hook.id}/deliveries/${event}`)).json.run === 1, { what: 'the second run recorded' });
    await waitFor(async () => (await redis.exists(k.body(hook.id, event))) === 0, { what: 'the body dropped after the redelivery' });
  });

  it("the fan-out's attempt writes no body; a failed one keeps it for its retry, which sends the same bytes", async () => {
    h = await startHarness({ retryScheduleMs: [0, 60_000] });
    const k = keysOf(h);
    const redis = redisOf(h);
    let release: (() => void) | undefined;
    let answer = 500;
    const receiver = await h.receiver((_r, res) => void (release = () => void res.writeHead(answer).end()));
    const hook = await h.register({ url: receiver.url });
    const [event] = (await h.append(1)) as [string];
    // In flight: recorded and claimed, with no body in Redis.
    await waitFor(() => release !== undefined, { what: 'the request at the receiver' });
    await waitFor(async () => (await redis.hget(k.delivery(hook.id, event), 'st')) === 'pending', { what: 'the record' });
    expect(await redis.exists(k.body(hook.id, event)), 'body key in flight').to.equal(0);
    expect(await redis.object('ENCODING', k.delivery(hook.id, event)), 'a direct owner keeps the record small').to.equal('listpack');

    release!();
    await waitFor(async () => (await h.call('GET', `/v1/webhooks/${hook.id}/deliveries/${event}`)).json.status === 'retrying', { what: 'retrying' });
    expect(await redis.get(k.body(hook.id, event))).to.equal(receiver.received[0]!.body);
    expect(await redis.ttl(k.body(hook.id, event))).to.be.above(0);

    answer = 204;
    release = undefined;
    const retry = await waitFor(async () => (await h.module.queue.queue.getDelayed()).find((job) => DeliveryQueue.specOf(job.data).eventId === event), { what: 'the retry scheduled' });
    await retry!.promote();
    await waitFor(() => release !== undefined, { what: 'the retry at the receiver' });
    release!();
    await waitFor(async () => (await h.call('GET', `/v1/webhooks/${hook.id}/deliveries/${event}`)).json.status === 'delivered', { what: 'delivered' });
    expect(receiver.received[1]!.body).to.equal(receiver.received[0]!.body);
    verify(hook.secret, receiver.received[1]!);
    expect(await redis.exists(k.body(hook.id, event)), 'body key after delivery').to.equal(0);
  });

  it('a job that finds no body (its direct attempt died unrecorded) sends it from the feed, or dead-letters it once the feed lost it', async () => {
    h = await startHarness({ retryScheduleMs: [0, 60_000] });
    const k = keysOf(h);
    const redis = redisOf(h);
    let up = false;
    const receiver = await h.receiver((_r, res) => void res.writeHead(up ? 204 : 500).end());
    const hook = await h.register({ url: receiver.url });
    const [kept, lost] = (await h.append(2)) as [string, string];
    const retrying = async (id: string) => (await h.call('GET', `/v1/webhooks/${hook.id}/deliveries/${id}`)).json.status === 'retrying';
    await waitFor(async () => (await retrying(kept)) && (await retrying(lost)), { what: 'both retrying' });
    // What a direct attempt that died before recording leaves: a record with no body.
    await redis.del(k.body(hook.id, kept), k.body(hook.id, lost));
    await redis.xdel(h.gateway.feed.keys.feed, (await redis.hget(k.delivery(hook.id, lost), 'cu'))!);

    up = true;
    for (const job of await h.module.queue.queue.getDelayed()) await job.promote();
    await waitFor(async () => (await h.call('GET', `/v1/webhooks/${hook.id}/deliveries/${kept}`)).json.status === 'delivered', { what: 'delivered from the feed' });
    const sent = receiver.received.filter((r) => r.headers['webhook-id'] === kept);
    expect(sent).to.have.length(2);
    expect(sent[1]!.body).to.equal(sent[0]!.body);

    const dead = await waitFor(async () => {
      const view = (await h.call('GET', `/v1/webhooks/${hook.id}/deliveries/${lost}`)).json;
      return view.status === 'dead' ? view : undefined;
    }, { what: 'dead-lettered' });
    expect(dead.lastError).to.match(/left the feed before it was sent/).and.match(/feed\.maxAgeMs/);
    expect(receiver.received.filter((r) => r.headers['webhook-id'] === lost)).to.have.length(1);
    expect((await h.call('GET', `/v1/webhooks/${hook.id}/dead-letters`)).json.items.map((d: { id: string }) => d.id)).to.include(lost);
  });

  it('a delivered event that has left the feed cannot be redelivered: 409 naming the feed retention', async () => {
    const { receiver, hook, event } = await deliveredEvent();
    const redis = redisOf(h);
    const cursor = (await redis.hget(keysOf(h).delivery(hook.id, event), 'cu'))!;
    // What retention does to an old entry.
    await redis.xdel(h.gateway.feed.keys.feed, cursor);

    const res = await h.call('POST', `/v1/webhooks/${hook.id}/deliveries/${event}/redeliver`);
    expect(res.status).to.equal(409);
    expect(res.headers.get('content-type')).to.match(/application\/problem\+json/);
    expect(res.json.detail).to.match(/has left the feed/).and.match(/feed\.maxAgeMs/);
    expect(receiver.received).to.have.length(1);
  });

  it('keeps the body of a delivery not from the feed (a test event), which redelivers as it was', async () => {
    h = await startHarness();
    const receiver = await h.receiver();
    const hook = await h.register({ url: receiver.url });
    const test = await h.call('POST', `/v1/webhooks/${hook.id}/test`);
    expect(test.status).to.equal(202);
    const id = test.json.deliveryId as string;
    await waitFor(async () => (await h.call('GET', `/v1/webhooks/${hook.id}/deliveries/${id}`)).json.status === 'delivered', { what: 'delivered' });
    expect(await redisOf(h).get(keysOf(h).body(hook.id, id))).to.equal(receiver.received[0]!.body);

    expect((await h.call('POST', `/v1/webhooks/${hook.id}/deliveries/${id}/redeliver`)).status).to.equal(202);
    await waitFor(() => receiver.received.length === 2, { what: 'redelivery' });
    expect(receiver.received[1]!.body).to.equal(receiver.received[0]!.body);
  });

  it('a record written with its body as a field (before the body had a key) is still sent and redelivered', async () => {
    h = await startHarness({ retryScheduleMs: [0, 60_000] });
    let up = false;
    const receiver = await h.receiver((_r, res) => void (up ? res.writeHead(204).end() : res.writeHead(500).end()));
    const hook = await h.register({ url: receiver.url });
    const [event] = (await h.append(1)) as [string];
    await waitFor(async () => (await h.call('GET', `/v1/webhooks/${hook.id}/deliveries/${event}`)).json.status === 'retrying', { what: 'retrying' });
    // The old layout: the body in the record, no key of its own, no cursor.
    const k = keysOf(h);
    const redis = redisOf(h);
    const body = (await redis.get(k.body(hook.id, event)))!;
    await redis.hset(k.delivery(hook.id, event), 'body', body);
    await redis.hdel(k.delivery(hook.id, event), 'cu');
    await redis.del(k.body(hook.id, event));

    up = true;
    // The retry (a job, which claims the body from the record) sends it.
    const retry = await waitFor(async () => (await h.module.queue.queue.getDelayed()).find((job) => DeliveryQueue.specOf(job.data).eventId === event), { what: 'the retry scheduled' });
    await retry!.promote();
    await waitFor(() => receiver.received.length === 2, { what: 'the retry' });
    expect(receiver.received[1]!.body).to.equal(receiver.received[0]!.body);
    await waitFor(async () => (await h.call('GET', `/v1/webhooks/${hook.id}/deliveries/${event}`)).json.status === 'delivered', { what: 'delivered' });
    expect((await h.call('POST', `/v1/webhooks/${hook.id}/deliveries/${event}/redeliver`)).status).to.equal(202);
    await waitFor(() => receiver.received.length === 3, { what: 'redelivery' });
    expect(receiver.received[2]!.body).to.equal(receiver.received[0]!.body);
  });
});
