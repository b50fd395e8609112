import { expect } from 'chai';
import { waitFor } from '../../helpers/redis.js';
import { verify } from '../../helpers/webhook-receiver.js';
import { startHarness, type Harness } from './webhook-harness.js';

describe('webhook failures', function () {
  this.timeout(30_000);
  let h: Harness;
  afterEach(() => h?.stop());

  it('dead-letters after the last attempt; visible; redeliver brings it back with the same webhook-id', async () => {
    h = await startHarness();
    let up = false;
    const receiver = await h.receiver((_r, res) => void (up ? res.writeHead(204).end() : res.writeHead(500).end('boom')));
    const hook = await h.register({ url: receiver.url });
    const [event] = await h.append(1);
    const dead = await waitFor(async () => {
      const res = await h.call('GET', `/v1/webhooks/${hook.id}/dead-letters`);
      return res.json.items.length === 1 ? res.json.items[0] : null;
    }, { what: 'a dead letter' });
    expect(dead).to.include({ id: event, status: 'dead', attempts: 4, lastStatus: 500 });
    const log = await h.call('GET', `/v1/webhooks/${hook.id}/deliveries?deliveryId=${event}`);
    expect(log.json.items.map((a: { attempt: number }) => a.attempt)).to.deep.equal([4, 3, 2, 1]);
    expect(log.json.items[0]).to.include({ outcome: 'dead', status: 500, responseBody: 'boom', error: 'HTTP 500' });
    expect(log.json.items[1].outcome).to.equal('retrying');
    expect(receiver.received).to.have.length(4);

    up = true;
    const again = await h.call('POST', `/v1/webhooks/${hook.id}/deliveries/${event}/redeliver`);
    expect(again.status).to.equal(202);
    expect(again.json.run).to.equal(1);
    await waitFor(() => receiver.received.length === 5, { what: 'redelivery' });
    for (const r of receiver.received) {
      expect(r.headers['webhook-id']).to.equal(event);
      verify(hook.secret, r);
    }
    await waitFor(async () => (await h.call('GET', `/v1/webhooks/${hook.id}/dead-letters`)).json.items.length === 0, { what: 'dead letter cleared' });
    const one = await h.call('GET', `/v1/webhooks/${hook.id}/deliveries/${event}`);
    expect(one.json).to.include({ status: 'delivered', run: 1, attempts: 1, totalAttempts: 5 });
  });

  it('redeliver of a pending delivery is a 409; of an unknown one a 404', async () => {
    h = await startHarness({ retryScheduleMs: [0, 60_000] });
    const receiver = await h.receiver((_r, res) => void res.writeHead(500).end());
    const hook = await h.register({ url: receiver.url });
    const [event] = await h.append(1);
    await waitFor(() => receiver.received.length === 1, { what: 'first attempt' });
    await waitFor(async () => (await h.call('GET', `/v1/webhooks/${hook.id}/deliveries/${event}`)).json.status === 'retrying', { what: 'retrying' });
    const res = await h.call('POST', `/v1/webhooks/${hook.id}/deliveries/${event}/redeliver`);
    expect(res.status).to.equal(409);
    expect((await h.call('POST', `/v1/webhooks/${hook.id}/deliveries/evt_0123456789abcdef0123456789abcdef/redeliver`)).status).to.equal(404);
  });

  it('honours Retry-After on 429, clamped to maxRetryAfterMs', async () => {
    h = await startHarness({ retryScheduleMs: [0, 60_000], maxRetryAfterMs: 100 });
    let first = true;
    const receiver = await h.receiver((_r, res) => {
      if (first) {
        first = false;
        res.writeHead(429, { 'retry-after': '3600' }).end();
      } else res.writeHead(204).end();
    });
    const hook = await h.register({ url: receiver.url });
    await h.append(1);
    // The schedule says 60 s; the receiver says 1 h; the clamp says 100 ms.
    await waitFor(() => receiver.received.length === 2, { what: 'retry after the clamped Retry-After' });
    const log = await h.call('GET', `/v1/webhooks/${hook.id}/deliveries`);
    expect(log.json.items.map((a: { status: number }) => a.status)).to.deep.equal([204, 429]);
  });

  it('410 Gone disables the endpoint and records webhook.disabled in the feed', async () => {
    h = await startHarness();
    const receiver = await h.receiver((_r, res) => void res.writeHead(410).end());
    const watcher = await h.receiver();
    const hook = await h.register({ url: receiver.url });
    const watch = await h.register({ url: watcher.url, events: ['webhook.disabled'] });
    await h.append(1);
    await waitFor(() => watcher.received.length === 1, { what: 'webhook.disabled delivered' });
    const payload = verify(watch.secret, watcher.received[0]!);
    expect(payload.type).to.equal('webhook.disabled');
    expect(payload.data).to.include({ id: hook.id });
    expect(payload.data.reason).to.match(/410/);
    const view = await h.call('GET', `/v1/webhooks/${hook.id}`);
    expect(view.json).to.include({ enabled: false });
    expect(view.json.disabledReason).to.match(/410/);
    expect(receiver.received).to.have.length(1);
    // Disabled endpoints get nothing; re-enabling resumes.
    await h.append(1, 'srv-2');
    await waitFor(() => h.module.idle(), { what: 'idle' });
    expect(receiver.received).to.have.length(1);
    expect((await h.call('PATCH', `/v1/webhooks/${hook.id}`, { enabled: true })).json.enabled).to.equal(true);
    receiver.behaviour = (_r, res) => void res.writeHead(204).end();
    await h.append(1, 'srv-3');
    await waitFor(() => receiver.received.length === 2, { what: 'delivery after re-enable' });
  });

  it('disables an endpoint failing without a single success for disableAfterMs', async () => {
    let offsetMs = 0;
    h = await startHarness({ disableAfterMs: 60_000, retryScheduleMs: [0, 50, 50, 50, 50, 50, 50, 50] }, { now: () => Date.now() + offsetMs });
    const receiver = await h.receiver((_r, res) => {
      offsetMs += 30_000; // every failure happens "30 s later" on the gateway clock
      res.writeHead(503).end();
    });
    const hook = await h.register({ url: receiver.url });
    await h.append(1);
    await waitFor(async () => (await h.call('GET', `/v1/webhooks/${hook.id}`)).json.enabled === false, { what: 'disabled' });
    const view = await h.call('GET', `/v1/webhooks/${hook.id}`);
    expect(view.json.disabledReason).to.match(/without a single success/);
    const feed = await h.gateway.feed.read('0', 100);
    expect(feed.entries.filter((e) => e.type === 'webhook.disabled')).to.have.length(1);
    // Its pending delivery is dead-lettered, so it can be redelivered after re-enabling.
    await waitFor(async () => (await h.call('GET', `/v1/webhooks/${hook.id}/dead-letters`)).json.items.length === 1, { what: 'dead letter' });
  });
});
