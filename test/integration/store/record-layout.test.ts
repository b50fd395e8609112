import { expect } from 'chai';
import { ChangeFeed, toEntry } from '../../../src/store/change-feed.js';
import { OBSERVE_BATCH, OBSERVE_PIPELINE, StateStore } from '../../../src/store/state-store.js';
import { useRedis } from '../../helpers/redis.js';
import { at, deploymentObs, instanceObs } from '../../helpers/observations.js';
import { payloadOf } from '../../../src/webhooks/webhook-payload.js';
import { asLayout3, asLayoutBeforeW, storeAndFeed } from '../../helpers/store.js';

describe('StateStore record layout and batches (real Redis)', () => {
  const ctx = useRedis();
  let store: StateStore;
  let feed: ChangeFeed;

  beforeEach(() => ({ store, feed } = storeAndFeed(ctx)));

  const FIELDS = ['bk', 'g', 'j', 'st', 'w'];

  it('keeps an instance in few fields and its content once (inside the served document)', async () => {
    await store.observeInstance(instanceObs(), { source: 'cached-poll', observedAtMs: Date.parse(at(1)) });
    const hash = await ctx.redis.hgetall(`${ctx.prefix}i:srv-1`);
    expect(Object.keys(hash).sort()).to.deep.equal(FIELDS);
    expect(hash.w).to.equal(`${Date.parse('2026-11-25T10:00:00Z')}|${hash.j!.indexOf(',"updatedAt":') - 1}|heat|${Date.parse(at(1))}|1`);
    expect(hash).to.include({ g: 'stack-1' });
    expect(await store.getInstanceForServe('srv-1')).to.include({ version: 1, observedAtMs: Date.parse(at(1)), observedAt: at(1) });
  });

  it('keeps the stored observedAt, ISO from the document, when an identical observation is older', async () => {
    await store.observeInstance(instanceObs(), { source: 'cached-poll', observedAtMs: Date.parse(at(9)) });
    expect(await store.observeInstance(instanceObs(), { source: 'cached-poll', observedAtMs: Date.parse(at(4)) })).to.deep.equal({ outcome: 'refreshed', version: 1 });
    expect(await store.getInstance('srv-1')).to.include({ observedAt: at(9), version: 1 });
    expect(await store.getInstanceForServe('srv-1')).to.include({ observedAtMs: Date.parse(at(9)), observedAt: at(9) });
  });

  const earlierLayouts = [
    { layout: 'layout 3 (version and observedAt in fields of their own)', rewrite: asLayout3 },
    { layout: 'the layout before w (content stored twice)', rewrite: asLayoutBeforeW },
  ];
  for (const { layout, rewrite } of earlierLayouts) {
    it(`reads a record of ${layout} and rewrites it in this one`, async () => {
      await store.observeInstance(instanceObs(), { source: 'cached-poll', observedAtMs: Date.parse(at(9)) });
      const key = `${ctx.prefix}i:srv-1`;
      await rewrite(ctx.redis, key);
      // An older identical observation: the stored observedAt (read from the old fields) stands.
      expect(await store.observeInstance(instanceObs(), { source: 'webhook', observedAtMs: Date.parse(at(4)) })).to.deep.equal({ outcome: 'refreshed', version: 1 });
      expect(Object.keys(await ctx.redis.hgetall(key)).sort()).to.deep.equal(FIELDS);
      expect(await store.getInstanceForServe('srv-1')).to.include({ version: 1, observedAtMs: Date.parse(at(9)), observedAt: at(9) });
      await rewrite(ctx.redis, key);
      const changed = await store.observeInstance(instanceObs({ state: 'stopped', updatedAt: '2026-11-25T10:01:00Z' }), { source: 'webhook', observedAtMs: Date.parse(at(70)) });
      expect(changed).to.include({ outcome: 'changed', version: 2 });
      const page = await feed.read('0', 10);
      expect(page.entries.map((e) => e.type)).to.deep.equal(['instance.created', 'instance.state_changed']);
      const event = JSON.parse(page.entries[1]!.json) as { data: { previous: { observedAt: string; state: string } } };
      expect(event.data.previous).to.include({ state: 'running', observedAt: at(9) });
    });
  }

  it(`answers a call of more than ${OBSERVE_BATCH} observations in order, one event per change, repeats included`, async () => {
    const many = Array.from({ length: OBSERVE_BATCH * 2 + 17 }, (_, n) => instanceObs({ id: `srv-${n % 150}`, name: `web-${n}` }));
    const results = await store.observeInstances(many, { source: 'cached-poll', observedAtMs: Date.parse(at(1)) });
    expect(results).to.have.length(many.length);
    // srv-k is observed at n = k, k+150: the second sighting changes the name, so version 2.
    results.forEach((r, n) => expect(r, `observation ${n}`).to.include({ outcome: 'changed', version: n < 150 ? 1 : 2 }));
    expect((await feed.read('0', 1_000)).entries).to.have.length(many.length);
    expect((await store.getInstance('srv-5'))!.name).to.equal('web-155');
  });

  it(`sends a call of more than ${OBSERVE_PIPELINE} observations as several pipelines, results in order`, async () => {
    const many = Array.from({ length: OBSERVE_PIPELINE + 150 }, (_, n) => instanceObs({ id: `srv-${String(n).padStart(5, '0')}` }));
    const results = await store.observeInstances(many, { source: 'cached-poll', observedAtMs: Date.parse(at(1)) });
    expect(results.map((r) => r.outcome)).to.deep.equal(many.map(() => 'changed'));
    const again = await store.observeInstances(many, { source: 'cached-poll', observedAtMs: Date.parse(at(2)) });
    expect(new Set(again.map((r) => `${r.outcome}/${r.version}`))).to.deep.equal(new Set(['refreshed/1']));
    expect((await feed.read('0', 1_000)).entries).to.have.length(1_000);
    expect(await ctx.redis.xlen(`${ctx.prefix}feed`)).to.equal(many.length);
  });

  it('applies observations in call order across windows in flight: the last sighting of an id wins, each change one event', async () => {
    // Three windows; srv-k is seen in each (n = k, k + size, k + 2·size) with a new name.
    const size = OBSERVE_PIPELINE + 50;
    const many = Array.from({ length: size * 3 }, (_, n) => instanceObs({ id: `srv-${n % size}`, name: `web-${n}` }));
    const results = await store.observeInstances(many, { source: 'cached-poll', observedAtMs: Date.parse(at(1)) });
    results.forEach((r, n) => {
      if (r.outcome !== 'changed' || r.version !== Math.floor(n / size) + 1) expect.fail(`observation ${n}: ${JSON.stringify(r)}`);
    });
    expect((await store.getInstance('srv-7'))!).to.include({ name: `web-${2 * size + 7}`, version: 3 });
    expect(await ctx.redis.xlen(`${ctx.prefix}feed`)).to.equal(many.length);
    // The cursors grow in call order: events were appended in the order they were observed.
    const cursors = results.map((r) => r.cursor!.split('-').map(Number) as [number, number]);
    for (let i = 1; i < cursors.length; i++) {
      const [a, b] = [cursors[i - 1]!, cursors[i]!];
      if (!(b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]))) expect.fail(`cursor ${i} not after ${i - 1}`);
    }
  });

  it('keeps the feed within its max length when one call appends more events than that', async () => {
    const small = new StateStore(ctx.redis, ctx.prefix, { maxLength: 100, maxAgeMs: 86_400_000 });
    const many = Array.from({ length: 1_000 }, (_, n) => instanceObs({ id: `srv-${n}` }));
    await small.observeInstances(many, { source: 'cached-poll', observedAtMs: Date.parse(at(1)) });
    // Approximate trimming (MAXLEN ~) removes whole stream nodes: at most one node (100 entries) over.
    const length = await ctx.redis.xlen(`${ctx.prefix}feed`);
    expect(length).to.be.within(100, 200);
    const last = (await ctx.redis.xrevrange(`${ctx.prefix}feed`, '+', '-', 'COUNT', 1))[0]!;
    expect(JSON.parse(toEntry(...last).json)).to.nested.include({ 'data.current.id': 'srv-999', type: 'instance.created' });
  });

  it('rejects the call when one of its script calls fails', async () => {
    const many = Array.from({ length: OBSERVE_PIPELINE * 2 + 10 }, (_, n) => instanceObs({ id: `srv-${n}` }));
    // A record that is not a hash makes the script call holding it fail (WRONGTYPE).
    await ctx.redis.set(`${ctx.prefix}i:srv-4005`, 'not a hash');
    const error = await store.observeInstances(many, { source: 'cached-poll', observedAtMs: Date.parse(at(1)) }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(error?.message).to.match(/WRONGTYPE/);
    // Calls before the failing one were applied (each is atomic on its own, as before).
    expect(await store.getInstance('srv-0')).to.include({ version: 1 });
  });

  it('splices a change into the webhook body exactly as parsing and re-encoding the event would', async () => {
    const tricky = 'srv "quoted" \\ back/slash é ✓ \u2028 <tag>';
    await store.observeDeployment(deploymentObs({ name: tricky, outputs: [{ key: 'url', value: 'http://x/é?a="b"', description: null }] }), { source: 'cached-poll', observedAtMs: Date.parse(at(1)) });
    await store.observeInstance(instanceObs({ name: tricky }), { source: 'cached-poll', observedAtMs: Date.parse(at(2)) });
    await store.observeInstance(instanceObs({ name: tricky, state: 'stopped', updatedAt: '2026-11-25T10:01:00Z' }), { source: 'cached-poll', observedAtMs: Date.parse(at(3)) });
    await store.observeDeployment(deploymentObs({ name: tricky, status: 'UPDATE_COMPLETE' }), { source: 'cached-poll', observedAtMs: Date.parse(at(4)) });
    const stored = await ctx.redis.xrange(`${ctx.prefix}feed`, '-', '+');
    expect(stored).to.have.length(4);
    for (const [cursor, fields] of stored) {
      const entry = toEntry(cursor, fields);
      expect(entry.change, 'a change keeps its parts').to.not.equal(undefined);
      const { change: _, ...parsedOnly } = entry;
      const spliced = payloadOf(entry);
      expect(spliced).to.deep.equal(payloadOf(parsedOnly));
      expect(JSON.parse(spliced.body)).to.nested.include({ 'data.cursor': cursor });
    }
  });
});
