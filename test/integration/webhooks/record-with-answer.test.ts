/**
 * A new delivery to an unordered endpoint is sent before anything is written, and recorded
 * with its answer in one script call (DeliveryWorker.attemptNew). What that call must still
 * get right: a failed first attempt keeps its body and is handed to its job; an endpoint
 * deleted while the request was on its way gets nothing written back; and a record that
 * fails in Redis leaves the feed entry pending, so the delivery is sent again (same
 * webhook-id) rather than lost — a job could not find it, since nothing was recorded.
 */
import { expect } from 'chai';
import { WebhookKeys } from '../../../src/store/webhook-keys.js';
import { DeliveryQueue } from '../../../src/webhooks/delivery-queue.js';
import { testRedis, waitFor } from '../../helpers/redis.js';
import { verify } from '../../helpers/webhook-receiver.js';
import { startHarness, type Harness } from './webhook-harness.js';

describe('webhook deliveries recorded with their first answer', function () {
  this.timeout(30_000);
  let h: Harness;
  afterEach(() => h?.stop());

  const keysOf = (harness: Harness) => new WebhookKeys(harness.gateway.config.redis.keyPrefix);
  const view = async (hook: { id: string }, event: string) => (await h.call('GET', `/v1/webhooks/${hook.id}/deliveries/${event}`)).json;

  it('a first attempt that fails is recorded retrying, with its body, and handed to its job', async () => {
    // However slow the machine, the answer is recorded with the delivery (one call).
    h = await startHarness({ retryScheduleMs: [0, 60_000] }, { recordWithAnswerMs: 60_000 });
    let status = 503;
    const receiver = await h.receiver((_r, res) => void res.writeHead(status).end());
    const hook = await h.register({ url: receiver.url });
    const [event] = (await h.append(1)) as [string];
    await waitFor(async () => (await view(hook, event)).status === 'retrying', { what: 'retrying' });
    expect(await view(hook, event)).to.include({ attempts: 1, totalAttempts: 1, run: 0, lastStatus: 503, subject: 'srv-1', eventType: 'instance.updated' });
    const k = keysOf(h);
    const redis = testRedis(h.gateway.config.redis.url);
    const jobId = DeliveryQueue.jobId({ endpointId: hook.id, eventId: event, run: 0 });
    expect(await redis.hget(k.delivery(hook.id, event), 'own'), 'handed to its job').to.equal(jobId);
    expect(await redis.get(k.body(hook.id, event))).to.equal(receiver.received[0]!.body);

    status = 204;
    const retry = await waitFor(async () => (await h.module.queue.queue.getDelayed()).find((job) => job.id === jobId), { what: 'the retry scheduled' });
    await retry!.promote();
    await waitFor(async () => (await view(hook, event)).status === 'delivered', { what: 'delivered' });
    expect(receiver.received.map((r) => r.headers['webhook-id'])).to.deep.equal([event, event]);
    expect(receiver.received[1]!.body).to.equal(receiver.received[0]!.body);
    verify(hook.secret, receiver.received[1]!);
  });

  it('writes nothing for an endpoint deleted while its request was on the way', async () => {
    h = await startHarness({}, { recordWithAnswerMs: 60_000 });
    let hookId = '';
    const receiver = await h.receiver(async (_r, res) => {
      const deleted = await h.call('DELETE', `/v1/webhooks/${hookId}`);
      res.writeHead(deleted.status === 204 ? 204 : 500).end();
    });
    const hook = await h.register({ url: receiver.url });
    hookId = hook.id;
    await h.append(1);
    await waitFor(() => h.module.idle(), { what: 'the entry acknowledged' });
    expect(receiver.received).to.have.length(1);
    const redis = testRedis(h.gateway.config.redis.url);
    const left = await redis.keys(`${keysOf(h).endpoint(hook.id).replace(/[*?[\]\\]/g, '\\$&')}*`);
    expect(left, 'keys of the deleted endpoint').to.deep.equal([]);
  });

  it('a record that fails in Redis leaves the entry pending: sent again, same webhook-id, until recorded', async () => {
    h = await startHarness({}, { recordWithAnswerMs: 60_000 });
    const receiver = await h.receiver();
    const hook = await h.register({ url: receiver.url });
    const k = keysOf(h);
    const redis = testRedis(h.gateway.config.redis.url);
    // The attempt log is no longer a sorted set: every record of an attempt fails (WRONGTYPE).
    await redis.set(k.log(hook.id), 'not a sorted set');
    const [event] = (await h.append(1)) as [string];
    // Unrecorded and unacknowledged: the fan-out claims the entry back and sends it again.
    await waitFor(() => receiver.received.length >= 2, { timeoutMs: 10_000, what: 'the delivery sent again' });
    await redis.del(k.log(hook.id));
    await waitFor(async () => (await view(hook, event)).status === 'delivered', { timeoutMs: 15_000, what: 'delivered once Redis records it' });
    await waitFor(() => h.module.idle(), { what: 'the entry acknowledged' });
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id']))).to.deep.equal(new Set([event]));
    for (const r of receiver.received) verify(hook.secret, r);
  });
});
