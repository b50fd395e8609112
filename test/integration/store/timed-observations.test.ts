import { expect } from 'chai';
import fc from 'fast-check';
import type { InstanceObservation } from '../../../src/model/types.js';
import { ChangeFeed } from '../../../src/store/change-feed.js';
import { OBSERVE_BATCH, StateStore } from '../../../src/store/state-store.js';
import { testPrefix, useRedis, deletePrefix } from '../../helpers/redis.js';
import { at, instanceObs } from '../../helpers/observations.js';

const LIMITS = { maxLength: 1_000_000, maxAgeMs: 7 * 86_400_000 };

/**
 * `observeInstancesAt`: a batch where each observation carries its own time (a list of
 * pushed notifications). Each must be applied exactly as if observed alone at its time.
 */
describe('StateStore observations with their own times, in one batch (real Redis)', () => {
  const ctx = useRedis();
  let store: StateStore;
  let feed: ChangeFeed;

  beforeEach(() => {
    store = new StateStore(ctx.redis, ctx.prefix, LIMITS);
    feed = new ChangeFeed(ctx.redis, ctx.prefix, LIMITS);
  });

  const timed = (observation: InstanceObservation, seconds: number) => ({ observation, observedAtMs: Date.parse(at(seconds)) });

  it('orders each observation by its own time: an older one later in the batch never overwrites a newer one', async () => {
    // No backend time, so the observation time decides (the case where the per-item time matters).
    const results = await store.observeInstancesAt(
      [timed(instanceObs({ state: 'stopped', updatedAt: null }), 20), timed(instanceObs({ state: 'running', updatedAt: null }), 10)],
      { source: 'webhook' },
    );
    expect(results.map((r) => r.outcome)).to.deep.equal(['changed', 'stale']);
    expect(await store.getInstance('srv-1')).to.include({ state: 'stopped', observedAt: at(20), version: 1 });
    expect((await feed.read('0', 10)).entries).to.have.length(1);
  });

  it('applies a newer one later in the batch: two changes, two events, the last state and time stored', async () => {
    const results = await store.observeInstancesAt(
      [timed(instanceObs({ state: 'running', updatedAt: null }), 10), timed(instanceObs({ state: 'stopped', updatedAt: null }), 20)],
      { source: 'webhook' },
    );
    expect(results.map((r) => `${r.outcome}/${r.version}`)).to.deep.equal(['changed/1', 'changed/2']);
    expect(await store.getInstance('srv-1')).to.include({ state: 'stopped', observedAt: at(20) });
    const entries = (await feed.read('0', 10)).entries;
    expect(entries.map((e) => e.type)).to.deep.equal(['instance.created', 'instance.state_changed']);
  });

  it('stores each observation\'s own observedAt, dates its event by it, and scores its tombstone by it', async () => {
    const ids = Array.from({ length: OBSERVE_BATCH + 5 }, (_, n) => `srv-${n}`);
    // Created with the call's time first, then each vanished at its own time, some equal to each other.
    await store.observeInstances(ids.map((id) => instanceObs({ id, updatedAt: null })), { source: 'webhook', observedAtMs: Date.parse(at(1)) });
    const results = await store.observeInstancesAt(
      ids.map((id, n) => timed(instanceObs({ id, state: 'vanished', updatedAt: null }), 100 + (n % 7))),
      { source: 'webhook' },
    );
    expect(new Set(results.map((r) => r.outcome))).to.deep.equal(new Set(['changed']));
    const docs = await store.getInstances(ids);
    docs.forEach((doc, n) => expect(doc, ids[n]).to.include({ state: 'vanished', observedAt: at(100 + (n % 7)) }));
    const events = (await feed.read('0', 1_000)).entries.filter((e) => e.type === 'instance.deleted');
    expect(events).to.have.length(ids.length);
    events.forEach((e, n) => expect(JSON.parse(e.json).occurredAt, ids[n]).to.equal(at(100 + (n % 7))));
    const scores = await ctx.redis.zmscore(`${ctx.prefix}tomb`, ...ids.map((id) => `i:${id}`));
    expect(scores.map(Number)).to.deep.equal(ids.map((_, n) => Date.parse(at(100 + (n % 7)))));
  });

  it('an event of an observation with a backend time is dated by that, whatever the observation time', async () => {
    await store.observeInstancesAt([timed(instanceObs({ updatedAt: at(3) }), 9)], { source: 'webhook' });
    const [entry] = (await feed.read('0', 10)).entries;
    expect(JSON.parse(entry!.json).occurredAt).to.equal(at(3));
    expect(await store.getInstance('srv-1')).to.include({ observedAt: at(9), updatedAt: at(3) });
  });

  it('refuses an observation without a usable time, naming it, and writes nothing', async () => {
    const error = await store
      .observeInstancesAt([timed(instanceObs({ id: 'srv-a' }), 1), { observation: instanceObs({ id: 'srv-b' }), observedAtMs: Number.NaN }], { source: 'webhook' })
      .then(() => null, (e: Error) => e);
    expect(error?.message).to.match(/observations\.1/);
    expect(await store.getInstance('srv-a')).to.equal(null);
  });

  it('a batch ends exactly where the same observations one at a time end (any order of times, states, backend times)', async () => {
    const step = fc.record({
      id: fc.constantFrom('srv-a', 'srv-b', 'srv-c'),
      state: fc.constantFrom('running', 'stopped', 'vanished'),
      seconds: fc.integer({ min: 0, max: 12 }),
      updated: fc.option(fc.integer({ min: 0, max: 6 }), { nil: null }),
      name: fc.constantFrom('web', 'db'),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: OBSERVE_BATCH + 30 }), async (steps) => {
        const alone = testPrefix();
        const batched = testPrefix();
        try {
          const make = (s: (typeof steps)[number]) =>
            instanceObs({ id: s.id, name: s.name, state: s.state as InstanceObservation['state'], updatedAt: s.updated === null ? null : at(s.updated) });
          const aloneStore = new StateStore(ctx.redis, alone, LIMITS);
          const aloneResults = [];
          for (const s of steps) aloneResults.push(await aloneStore.observeInstance(make(s), { source: 'webhook', observedAtMs: Date.parse(at(s.seconds)) }));
          const batchStore = new StateStore(ctx.redis, batched, LIMITS);
          const batchResults = await batchStore.observeInstancesAt(steps.map((s) => timed(make(s), s.seconds)), { source: 'webhook' });
          const shape = (r: { outcome: string; version: number; event?: string }) => `${r.outcome}/${r.version}/${r.event ?? ''}`;
          expect(batchResults.map(shape)).to.deep.equal(aloneResults.map(shape));
          const ids = ['srv-a', 'srv-b', 'srv-c'];
          expect(await batchStore.getInstances(ids)).to.deep.equal(await aloneStore.getInstances(ids));
          const occurred = async (prefix: string) =>
            (await new ChangeFeed(ctx.redis, prefix, LIMITS).read('0', 1_000)).entries.map((e) => `${e.type}@${JSON.parse(e.json).occurredAt}`);
          expect(await occurred(batched)).to.deep.equal(await occurred(alone));
        } finally {
          await deletePrefix(ctx.redis, alone);
          await deletePrefix(ctx.redis, batched);
        }
      }),
      { numRuns: 40, seed: 15 },
    );
  });
});
