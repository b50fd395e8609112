import { expect } from 'chai';
import type { LookupAddress } from 'node:dns';
import { compareCursors } from '../../../src/store/change-feed.js';
import { waitFor } from '../../helpers/redis.js';
import { verify } from '../../helpers/webhook-receiver.js';
import { startHarness, type Harness } from './webhook-harness.js';

function expectProblem(res: { status: number; json: any; headers: Headers }, status: number) {
  expect(res.status, JSON.stringify(res.json)).to.equal(status);
  expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
}

describe('webhook API', function () {
  this.timeout(30_000);
  let h: Harness;
  afterEach(() => h?.stop());

  describe('SSRF guard at registration', () => {
    let answers: Record<string, string[]>;
    const resolver = async (host: string): Promise<LookupAddress[]> => {
      const a = answers[host];
      if (!a) throw new Error(`ENOTFOUND ${host}`);
      return a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    };
    beforeEach(() => {
      answers = { 'internal.test': ['10.20.30.40'], 'public.test': ['93.184.216.34'] };
    });

    const table: [string, RegExp][] = [
      ['http://127.0.0.1/hook', /loopback/],
      ['http://[::1]/hook', /loopback/],
      ['http://169.254.169.254/latest/meta-data', /link-local/],
      ['http://10.0.0.1/hook', /private/],
      ['http://100.64.0.1/hook', /cgnat/],
      ['http://internal.test/hook', /private/],
      ['ftp://public.test/hook', /scheme/],
      ['http://user:pass@public.test/hook', /credentials/],
      [`http://public.test/${'x'.repeat(2_100)}`, /length/],
    ];
    for (const [url, reason] of table) {
      it(`refuses ${url.slice(0, 50)} with a problem naming the reason`, async () => {
        h = await startHarness({ allowNetworks: [] }, { resolver });
        const res = await h.call('POST', '/v1/webhooks', { url });
        expectProblem(res, 400);
        expect(res.json.errors[0].path).to.equal('body.url');
        expect(res.json.errors[0].message).to.match(reason);
        expect(res.json.detail).to.match(reason);
      });
    }

    it('allows each refused network once allowNetworks lists it', async () => {
      h = await startHarness({ allowNetworks: ['127.0.0.0/8', '::1/128', '169.254.169.254/32', '10.0.0.0/8', '100.64.0.0/10'] }, { resolver });
      for (const url of ['http://127.0.0.1/hook', 'http://[::1]/hook', 'http://169.254.169.254/x', 'http://10.0.0.1/hook', 'http://100.64.0.1/hook', 'http://internal.test/hook']) {
        expect((await h.call('POST', '/v1/webhooks', { url })).status, url).to.equal(201);
      }
      // Form rules do not depend on networks.
      expectProblem(await h.call('POST', '/v1/webhooks', { url: 'ftp://127.0.0.1/' }), 400);
    });

    it('refuses at connect time a name that rebinds to a private address: attempt fails, no connection made', async () => {
      h = await startHarness({ allowNetworks: [], retryScheduleMs: [0] }, { resolver });
      const receiver = await h.receiver();
      answers['rebind.test'] = ['93.184.216.34'];
      const hook = await h.register({ url: `http://rebind.test:${receiver.port}/hook` });
      answers['rebind.test'] = ['127.0.0.1']; // the receiver really listens there
      await h.append(1);
      const log = await waitFor(async () => {
        const res = await h.call('GET', `/v1/webhooks/${hook.id}/deliveries`);
        return res.json.items.length === 1 ? res.json.items : null;
      }, { what: 'one attempt' });
      expect(log[0].outcome).to.equal('dead');
      expect(log[0].status).to.equal(null);
      expect(log[0].error).to.match(/refused at connect time.*loopback/);
      expect(receiver.connections).to.equal(0);
      expect(receiver.received).to.have.length(0);
    });
  });

  it('validates bodies and names the field', async () => {
    h = await startHarness();
    let res = await h.call('POST', '/v1/webhooks', { url: 'http://127.0.0.1/', events: ['instance.exploded'] });
    expectProblem(res, 400);
    expect(res.json.errors[0].path).to.equal('body.events.0');
    expect(res.json.errors[0].message).to.match(/instance\.exploded.*instance\.created/);
    res = await h.call('POST', '/v1/webhooks', { url: 'http://127.0.0.1/', maxPerSecond: 0 });
    expect(res.json.errors[0].path).to.equal('body.maxPerSecond');
    res = await h.call('POST', '/v1/webhooks', { url: 'http://127.0.0.1/', colour: 'red' });
    expect(res.json.errors[0].path).to.equal('body.colour');
    res = await h.call('POST', '/v1/webhooks', {});
    expect(res.json.errors[0].path).to.equal('body.url');
    expectProblem(await h.call('GET', '/v1/webhooks/wh_0123456789abcdef0123456789abcdef'), 404);
    // An id that does not exist is 404 whatever its form; only one that cannot be an id is 400.
    for (const id of ['nope', 'no-such-webhook', 'WH_X', 'wh_123']) {
      expectProblem(await h.call('GET', `/v1/webhooks/${id}`), 404);
      expectProblem(await h.call('GET', `/v1/webhooks/${id}/deliveries`), 404);
    }
    expectProblem(await h.call('GET', '/v1/webhooks/wh_0123456789abcdef0123456789abcdef/deliveries/not-an-event'), 404);
    expectProblem(await h.call('GET', '/v1/webhooks/a%20b'), 400);
  });

  it('creates, lists (paged), reads, patches and deletes endpoints; secrets only on create and rotate', async () => {
    h = await startHarness();
    const created = await Promise.all([1, 2, 3].map((i) => h.register({ url: `http://127.0.0.1:9/${i}`, events: ['instance.*'], description: `n${i}` })));
    let page = await h.call('GET', '/v1/webhooks?limit=2');
    expect(page.json.items).to.have.length(2);
    const rest = await h.call('GET', `/v1/webhooks?limit=2&cursor=${page.json.next}`);
    expect(rest.json.items).to.have.length(1);
    expect(rest.json.next).to.equal(null);
    expect([...page.json.items, ...rest.json.items].map((w: { id: string }) => w.id).sort()).to.deep.equal(created.map((c) => c.id).sort());
    expect(JSON.stringify(page.json)).to.not.contain('whsec_');
    const patched = await h.call('PATCH', `/v1/webhooks/${created[0]!.id}`, { ordered: true, maxPerSecond: 3, events: null, deploymentIds: ['stack-9'] });
    expect(patched.status).to.equal(200);
    expect(patched.json).to.include({ ordered: true, maxPerSecond: 3, events: null });
    expect(patched.json.deploymentIds).to.deep.equal(['stack-9']);
    expect((await h.call('DELETE', `/v1/webhooks/${created[0]!.id}`)).status).to.equal(204);
    expectProblem(await h.call('GET', `/v1/webhooks/${created[0]!.id}`), 404);
    page = await h.call('GET', '/v1/webhooks');
    expect(page.json.items).to.have.length(2);
  });

  it('filters by event type and deployment', async () => {
    h = await startHarness();
    const receiver = await h.receiver();
    const hook = await h.register({ url: receiver.url, events: ['deployment.*', 'instance.updated'], deploymentIds: ['stack-2'] });
    await h.append(2, 'srv-1', 'stack-1');
    const wanted = await h.append(2, 'srv-2', 'stack-2');
    await h.gateway.feed.append('instance.created', { current: { version: 1 }, previous: null }, { subject: 'srv-3', deploymentId: 'stack-2' });
    await waitFor(() => h.module.idle(), { what: 'idle' });
    expect(receiver.received.map((r) => r.headers['webhook-id'])).to.have.members(wanted);
    for (const r of receiver.received) verify(hook.secret, r);
  });

  it('test event, attempt log with the first 4 KB of the answer', async () => {
    h = await startHarness();
    const receiver = await h.receiver((_r, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end('y'.repeat(10_000)));
    const hook = await h.register({ url: receiver.url, events: ['deployment.created'] });
    const sent = await h.call('POST', `/v1/webhooks/${hook.id}/test`);
    expect(sent.status).to.equal(202);
    await waitFor(() => receiver.received.length === 1, { what: 'test delivery' });
    const payload = verify(hook.secret, receiver.received[0]!);
    expect(payload.type).to.equal('webhook.test');
    expect(receiver.received[0]!.headers['webhook-id']).to.equal(sent.json.deliveryId);
    const log = await waitFor(async () => (await h.call('GET', `/v1/webhooks/${hook.id}/deliveries`)).json.items[0], { what: 'attempt log' });
    expect(log).to.include({ deliveryId: sent.json.deliveryId, eventType: 'webhook.test', attempt: 1, status: 200, outcome: 'delivered', error: null });
    expect(log.responseBody).to.equal('y'.repeat(4_096));
    expect(log.durationMs).to.be.a('number');
    expect(Date.parse(log.at)).to.be.a('number').and.not.NaN;
    const one = await h.call('GET', `/v1/webhooks/${hook.id}/deliveries/${sent.json.deliveryId}`);
    expect(one.json).to.include({ status: 'delivered', attempts: 1, eventType: 'webhook.test' });
    expect(one.json.attemptLog).to.have.length(1);
  });

  it('keeps the attempt log bounded (attemptLogLimit)', async () => {
    h = await startHarness({ attemptLogLimit: 10 });
    const receiver = await h.receiver();
    const hook = await h.register({ url: receiver.url });
    await h.append(25);
    await waitFor(() => receiver.received.length === 25, { what: '25 deliveries' });
    await waitFor(() => h.module.idle(), { what: 'idle' });
    const log = await h.call('GET', `/v1/webhooks/${hook.id}/deliveries?limit=100`);
    expect(log.json.items).to.have.length(10);
  });

  it('an endpoint created later gets no older events, except through replay', async () => {
    h = await startHarness();
    const early = await h.receiver();
    await h.register({ url: early.url });
    const before = await h.append(3);
    await waitFor(() => early.received.length === 3, { what: 'early deliveries' });
    const late = await h.receiver();
    const hook = await h.register({ url: late.url });
    const after = await h.append(2, 'srv-2');
    await waitFor(() => late.received.length === 2 && early.received.length === 5, { what: 'later deliveries' });
    expect(late.received.map((r) => r.headers['webhook-id'])).to.deep.equal(after);
    const replay = await h.call('POST', `/v1/webhooks/${hook.id}/replay`, { since: new Date(Date.now() - 60_000).toISOString() });
    expect(replay.status).to.equal(202);
    expect(replay.json).to.include({ matched: 5 });
    await waitFor(() => late.received.length === 7, { what: 'replayed deliveries' });
    expect(late.received.slice(2).map((r) => r.headers['webhook-id'])).to.have.members([...before, ...after]);
    for (const r of late.received) verify(hook.secret, r);
    expectProblem(await h.call('POST', `/v1/webhooks/${hook.id}/replay`, { since: 'yesterday' }), 400);
  });
  it('an endpoint created while events stream in gets exactly the events after its start, none lost', async () => {
    h = await startHarness();
    const receiver = await h.receiver();
    const appended: { id: string; cursor: string }[] = [];
    let appending = true;
    const writer = (async () => {
      while (appending) {
        const e = await h.gateway.feed.append('instance.updated', { current: { id: 'srv-9', version: appended.length + 1 }, previous: null }, { subject: 'srv-9', deploymentId: 'stack-1' });
        appended.push({ id: e.id, cursor: e.cursor });
      }
    })();
    // Creations interleave with the appends: each one lands between two of them.
    const hooks: { id: string; secret: string }[] = [];
    for (let i = 0; i < 8; i++) {
      await waitFor(() => appended.length > (i + 1) * 20, { what: 'events flowing' });
      hooks.push(await h.register({ url: `${receiver.url}/h${i}` }));
    }
    await waitFor(() => appended.length > 200, { what: 'more events' });
    appending = false;
    await writer;
    await waitFor(() => h.module.idle(), { timeoutMs: 20_000, what: 'every delivery' });
    for (const [i, hook] of hooks.entries()) {
      const start = (await h.call('GET', `/v1/webhooks/${hook.id}`)).json.startCursor as string;
      const expected = appended.filter((e) => compareCursors(e.cursor, start) > 0).map((e) => e.id);
      const got = receiver.received.filter((r) => r.path === `/h${i}`).map((r) => r.headers['webhook-id']);
      expect(expected.length, `endpoint ${i}`).to.be.greaterThan(0);
      expect(got, `endpoint ${i}`).to.have.members(expected);
    }
  });
});
