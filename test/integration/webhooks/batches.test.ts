/**
 * Deliveries are recorded a batch at a time. A fresh read's deliveries to unordered endpoints
 * are sent first and recorded with their attempts, the attempts that end together in one
 * script call; any other read's deliveries (here: to ordered endpoints) are recorded, every
 * endpoint's in one call, before they are sent. Counted with MONITOR; one call per delivery
 * and per attempt fails these, and so does a record written before a fresh delivery's answer.
 */
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { monitorRedis, testRedis, waitFor, type MonitoredCommand } from '../../helpers/redis.js';
import { verify } from '../../helpers/webhook-receiver.js';
import type { FinishInput } from '../../../src/store/delivery-store.js';
import { ENSURE_MANY_LUA, FINISH_MANY_LUA } from '../../../src/store/lua/deliveries.js';
import { startHarness, type Harness } from './webhook-harness.js';

const sha = (lua: string) => createHash('sha1').update(lua).digest('hex');

describe('webhook deliveries recorded in batches', function () {
  this.timeout(60_000);
  let h: Harness;
  afterEach(() => h?.stop());

  /**
   * Delivers `events` events to two endpoints whose receiver answers nothing until every
   * delivery has arrived, then all at once; answers the batch script calls made meanwhile.
   */
  async function deliverHeld(events: number, ordered: boolean) {
    h = await startHarness();
    const deliveries = events * 2;
    let releaseAll!: () => void;
    const allArrived = new Promise<void>((resolve) => (releaseAll = resolve));
    const receiver = await h.receiver(async (_r, res) => {
      if (receiver.received.length === deliveries) releaseAll();
      await allArrived;
      res.writeHead(204).end();
    });
    const a = await h.register({ url: `${receiver.url}/a`, ordered });
    const b = await h.register({ url: `${receiver.url}/b`, ordered });
    const calls: MonitoredCommand[] = [];
    const monitor = await monitorRedis(h.gateway.config.redis.url, (c) => {
      const name = c.args[0]?.toLowerCase();
      if (name === 'evalsha' || name === 'eval') calls.push(c);
    });
    try {
      // An ordered endpoint sends one delivery per subject at a time: one subject per event.
      await Promise.all(Array.from({ length: events }, (_, i) => h.append(1, ordered ? `srv-${i}` : 'srv-1')));
      await waitFor(() => h.module.idle(), { what: 'every delivery recorded and acknowledged' });
    } finally {
      monitor.stop();
    }
    expect(receiver.received).to.have.length(deliveries);
    for (const r of receiver.received) verify(r.path === '/a' ? a.secret : b.secret, r);
    for (const hook of [a, b]) {
      const log = await h.call('GET', `/v1/webhooks/${hook.id}/deliveries?limit=100`);
      expect(log.status).to.equal(200);
      const outcomes = (log.json.items as { outcome: string; seq: number }[]).map((x) => x.outcome);
      expect(outcomes).to.deep.equal(Array(events).fill('delivered'));
    }
    // A call's items: numkeys over the keys per item (the first argument after the keys), each
    // with the arguments per item after that. (EVAL the first time on a connection, EVALSHA after.)
    const scriptOf = (c: MonitoredCommand) => (c.args[0]!.toLowerCase() === 'eval' ? sha(c.args[1]!) : c.args[1]);
    const itemsOf = (c: MonitoredCommand) => {
      const numkeys = Number(c.args[2]);
      const [perItem, argsPerItem] = [Number(c.args[3 + numkeys]), Number(c.args[4 + numkeys])];
      return Array.from({ length: numkeys / perItem }, (_, i) => c.args.slice(5 + numkeys + i * argsPerItem, 5 + numkeys + (i + 1) * argsPerItem));
    };
    const items = (lua: string) => calls.filter((c) => scriptOf(c) === sha(lua)).map(itemsOf);
    return { deliveries, ensures: items(ENSURE_MANY_LUA), finishes: items(FINISH_MANY_LUA) };
  }

  it("records a fresh read's deliveries with their attempts, those that end together in one call", async () => {
    const { deliveries, ensures, finishes } = await deliverHeld(20, false);
    expect(ensures, 'nothing recorded before the answers').to.deep.equal([]);
    expect(finishes.flat().length, 'attempts recorded').to.equal(deliveries);
    expect(finishes.length, 'finish calls').to.be.below(deliveries / 2);
    // Each item creates its delivery (FINISH_BODY's 16th argument: the creation time).
    expect(finishes.flat().every((args) => Number(args[15]) > 0), 'every delivery created with its attempt').to.equal(true);
  });

  it("records a read's deliveries to ordered endpoints in one call before sending them", async () => {
    const events = 20;
    const { deliveries, ensures, finishes } = await deliverHeld(events, true);
    expect(ensures.flat().length, 'deliveries recorded').to.equal(deliveries);
    expect(finishes.flat().length, 'attempts recorded').to.equal(deliveries);
    // Each call records both endpoints' deliveries of a whole read.
    expect(ensures.length, 'ensure calls').to.be.at.most(events);
    expect(ensures.every((read) => read.length % 2 === 0), 'both endpoints in every call').to.equal(true);
    expect(finishes.length, 'finish calls').to.be.below(deliveries / 2);
    expect(finishes.flat().every((args) => args[15] === ''), 'no delivery created by its attempt').to.equal(true);
  });

  it('an attempt that fails in Redis fails alone: the others of its call are recorded', async () => {
    h = await startHarness();
    const store = h.gateway.stores.deliveries(() => ({ ttlSeconds: 3_600, attemptLogLimit: 100 }));
    const a = await h.register({ url: 'http://127.0.0.1:9/a' });
    const b = await h.register({ url: 'http://127.0.0.1:9/b' });
    const now = Date.now();
    const delivery = (eventId: string) => ({ eventId, type: 'instance.updated', subject: 'srv-1', body: '{}', ordered: false });
    await store.ensure(a.id, [delivery('evt_a')], 'new', now);
    await store.ensure(b.id, [delivery('evt_b')], 'new', now);
    // B's attempt log is no longer a sorted set: recording B's attempt fails (WRONGTYPE).
    await testRedis(h.gateway.config.redis.url).set(store.keys.log(b.id), 'not a sorted set');
    const attempt = (endpointId: string, deliveryId: string): FinishInput => ({
      endpointId, deliveryId, subject: 'srv-1', outcome: 'delivered', nowMs: now, nextAttemptAtMs: null, status: 204, error: null, success: true,
      attempt: { deliveryId, eventType: 'instance.updated', attempt: 1, at: new Date(now).toISOString(), status: 204, durationMs: 1, responseBody: '', error: null, nextAttemptAt: null, outcome: 'delivered' },
    });
    // Asked in the same turn: one call (the test above counts them).
    const [ok, failed, alsoOk] = await Promise.allSettled([store.finish(attempt(a.id, 'evt_a')), store.finish(attempt(b.id, 'evt_b')), store.finish(attempt(a.id, 'evt_a2'))]);
    expect(ok.status).to.equal('fulfilled');
    expect(alsoOk.status).to.equal('fulfilled');
    expect(failed.status).to.equal('rejected');
    expect(((failed as PromiseRejectedResult).reason as Error).message).to.match(/WRONGTYPE/);
    expect((await store.get(a.id, 'evt_a'))?.view.status).to.equal('delivered');
    expect((await store.attempts(a.id, 10)).items.map((x) => x.deliveryId)).to.deep.equal(['evt_a2', 'evt_a']);
  });
});
