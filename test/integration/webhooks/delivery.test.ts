import { expect } from 'chai';
import { waitFor } from '../../helpers/redis.js';
import { startReceiver, verify, type Received } from '../../helpers/webhook-receiver.js';
import { instanceObs } from '../../helpers/observations.js';
import { startHarness, type Harness } from './webhook-harness.js';

const ids = (rs: Received[]) => rs.map((r) => r.headers['webhook-id']!);

describe('webhook delivery', function () {
  this.timeout(60_000);
  let h: Harness;
  afterEach(() => h?.stop());

  it('delivers a cache change signed per Standard Webhooks, body = type, timestamp, data with version', async () => {
    h = await startHarness();
    const receiver = await h.receiver();
    const hook = await h.register({ url: `${receiver.url}/hook` });
    expect(hook.secret).to.match(/^whsec_[A-Za-z0-9+/]{43}=$/);
    await h.gateway.store.observeInstance(instanceObs(), { source: 'test' });
    await waitFor(() => receiver.received.length === 1, { what: 'one delivery' });
    const r = receiver.received[0]!;
    const payload = verify(hook.secret, r);
    expect(Object.keys(JSON.parse(r.body))).to.deep.equal(['type', 'timestamp', 'data']);
    expect(payload.type).to.equal('instance.created');
    expect(payload.timestamp).to.match(/^\d{4}-\d\d-\d\dT/);
    expect(payload.data.id).to.equal('srv-1');
    expect(payload.data.deploymentId).to.equal('stack-1');
    expect(payload.data.current.version).to.equal(1);
    expect(payload.data.previous).to.equal(null);
    expect(r.headers['webhook-id']).to.match(/^evt_[0-9a-f]{32}$/);
    expect(Math.abs(Number(r.headers['webhook-timestamp']) - Date.now() / 1_000)).to.be.below(60);
    expect(r.headers['content-type']).to.equal('application/json');
    expect(r.path).to.equal('/hook');
  });

  it('an endpoint registered, changed or deleted while the fan-out runs applies from the next event on', async () => {
    // The fan-out keeps the endpoints between reads and learns of registry changes from the
    // version read with each batch of entries: a stale list would miss or keep an endpoint.
    h = await startHarness();
    const a = await h.receiver();
    const b = await h.receiver();
    await h.register({ url: a.url });
    const [e1] = await h.append(1);
    await waitFor(() => a.received.length === 1, { what: 'e1 at A' });
    const hookB = await h.register({ url: b.url });
    const [e2] = await h.append(1, 'srv-2');
    await waitFor(() => a.received.length === 2 && b.received.length === 1, { what: 'e2 at A and B' });
    expect(ids(b.received)).to.deep.equal([e2]);
    expect((await h.call('PATCH', `/v1/webhooks/${hookB.id}`, { events: ['deployment.*'] })).status).to.equal(200);
    const [e3] = await h.append(1, 'srv-3');
    await waitFor(() => a.received.length === 3, { what: 'e3 at A' });
    expect((await h.call('DELETE', `/v1/webhooks/${hookB.id}`)).status).to.equal(204);
    const [e4] = await h.append(1, 'srv-4');
    await waitFor(() => a.received.length === 4, { what: 'e4 at A' });
    await waitFor(() => h.module.idle(), { what: 'idle' });
    expect(ids(a.received)).to.deep.equal([e1, e2, e3, e4]);
    expect(ids(b.received)).to.deep.equal([e2]);
  });

  it('a receiver that is down, then back: everything delivered, nothing lost, repeats share the webhook-id', async () => {
    h = await startHarness({ retryScheduleMs: [0, 50, 100, 200, 400, 800, 1_600, 3_200, 6_400] });
    // Down: nothing listens on the port.
    const probe = await startReceiver();
    const port = probe.port;
    await probe.close();
    const hook = await h.register({ url: `http://127.0.0.1:${port}/hook` });
    const events = await h.append(20);
    await waitFor(async () => {
      const log = await h.call('GET', `/v1/webhooks/${hook.id}/deliveries?limit=1000`);
      return new Set((log.json.items as { deliveryId: string; error: string }[]).filter((a) => /ECONNREFUSED/.test(a.error)).map((a) => a.deliveryId)).size === 20;
    }, { what: 'a refused attempt for each of the 20 events' });
    // Back, but the first answer to each event is a 500.
    const seen = new Set<string>();
    const receiver = await startReceiver((r, res) => {
      const id = r.headers['webhook-id']!;
      if (seen.has(id)) res.writeHead(204).end();
      else {
        seen.add(id);
        res.writeHead(500).end('not yet');
      }
    }, port);
    h.receivers.push(receiver);
    await waitFor(() => seen.size === 20 && receiver.received.length >= 40, { timeoutMs: 20_000, what: 'every event delivered' });
    for (const r of receiver.received) verify(hook.secret, r);
    const counts = new Map<string, number>();
    for (const id of ids(receiver.received)) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts.keys()].sort()).to.deep.equal([...events].sort());
    for (const [id, n] of counts) expect(n, id).to.equal(2);
    await waitFor(() => h.module.idle(), { what: 'queue idle' });
    const dead = await h.call('GET', `/v1/webhooks/${hook.id}/dead-letters`);
    expect(dead.json.items).to.deep.equal([]);
  });

  it('during a secret rotation both secrets verify every delivery', async () => {
    h = await startHarness();
    const receiver = await h.receiver();
    const hook = await h.register({ url: receiver.url });
    const rotated = await h.call('POST', `/v1/webhooks/${hook.id}/rotate-secret`);
    expect(rotated.status).to.equal(200);
    const newSecret = rotated.json.secret as string;
    expect(newSecret).to.match(/^whsec_/).and.not.equal(hook.secret);
    expect(rotated.json.secretExpiresAt).to.have.length(1);
    const expiresIn = Date.parse(rotated.json.secretExpiresAt[0]) - Date.now();
    expect(expiresIn).to.be.within(23 * 3_600_000, 24 * 3_600_000 + 1);
    await h.append(3);
    await waitFor(() => receiver.received.length === 3, { what: '3 deliveries' });
    for (const r of receiver.received) {
      expect(r.headers['webhook-signature']!.split(' ')).to.have.length(2);
      verify(hook.secret, r);
      verify(newSecret, r);
    }
    const view = await h.call('GET', `/v1/webhooks/${hook.id}`);
    expect(JSON.stringify(view.json)).to.not.contain('whsec_');
  });

  it('an ordered endpoint whose first attempt fails keeps feed order per instance', async () => {
    h = await startHarness();
    let failed = false;
    const receiver = await h.receiver((_r, res) => {
      if (!failed) {
        failed = true;
        res.writeHead(500).end();
      } else res.writeHead(204).end();
    });
    const hook = await h.register({ url: receiver.url, ordered: true });
    const events = await h.append(8, 'srv-7');
    await waitFor(() => receiver.received.length === 9, { what: '9 requests (8 events, one retried)' });
    for (const r of receiver.received) verify(hook.secret, r);
    expect(ids(receiver.received)).to.deep.equal([events[0], ...events]);
    expect(receiver.received.map((r) => JSON.parse(r.body).data.current.version)).to.deep.equal([1, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('a maxPerSecond: 5 endpoint never gets more than 5 in any 1-second window', async () => {
    h = await startHarness();
    const receiver = await h.receiver();
    const hook = await h.register({ url: receiver.url, maxPerSecond: 5 });
    const subjects = ['a', 'b', 'c', 'd'];
    for (const s of subjects) await h.append(4, s);
    await waitFor(() => receiver.received.length === 16, { timeoutMs: 20_000, what: '16 deliveries' });
    for (const r of receiver.received) verify(hook.secret, r);
    const at = receiver.received.map((r) => r.at).sort((a, b) => a - b);
    // The guarantee itself: any 6 consecutive receipts span at least a second.
    for (let i = 0; i + 5 < at.length; i++) expect(at[i + 5]! - at[i]!, `receipts ${i}..${i + 5}`).to.be.at.least(1_000);
  });

  it('1,000 events × 3 endpoints: zero loss, zero duplicates, all verified', async () => {
    h = await startHarness({ concurrency: 50 });
    const receivers = await Promise.all([h.receiver(), h.receiver(), h.receiver()]);
    const hooks = await Promise.all(receivers.map((r) => h.register({ url: r.url })));
    const events = await h.append(1_000);
    await waitFor(() => receivers.every((r) => r.received.length >= 1_000), { timeoutMs: 50_000, what: '3,000 deliveries' });
    await waitFor(() => h.module.idle(), { what: 'queue idle' });
    receivers.forEach((r, i) => {
      expect(r.received).to.have.length(1_000);
      expect(new Set(ids(r.received)).size).to.equal(1_000);
      expect([...ids(r.received)].sort()).to.deep.equal([...events].sort());
      for (const x of r.received) verify(hooks[i]!.secret, x);
    });
  });
});
