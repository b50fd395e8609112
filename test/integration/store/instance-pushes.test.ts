import { expect } from 'chai';
import fc from 'fast-check';
import { INSTANCE_STATES } from '../../../src/model/states.js';
import { UNASSIGNED_DEPLOYMENT, type Instance, type InstanceObservation } from '../../../src/model/types.js';
import { ChangeFeed } from '../../../src/store/change-feed.js';
import type { InstancePush } from '../../../src/store/instance-push.js';
import { OBSERVE_BATCH, StateStore, type ObserveResult } from '../../../src/store/state-store.js';
import { deletePrefix, testPrefix, useRedis } from '../../helpers/redis.js';
import { at, instanceObs } from '../../helpers/observations.js';
import { asLayoutBeforeW, FEED_LIMITS, storeAndFeed } from '../../helpers/store.js';

const IDS = ['srv-a', 'srv-b', 'srv-c', 'srv-new'];

/**
 * What a push meant before the script patched records itself (the reference): read the
 * cached document, build the whole observation from it and the push, observe it alone at the
 * push's time. A push about an instance the cache does not hold (or holds without its
 * deployment while the push names a stack) is `unknown`.
 */
async function referencePush(store: StateStore, push: InstancePush): Promise<Pick<ObserveResult, 'outcome' | 'version' | 'event'>> {
  const known = await store.getInstance(push.id);
  if (!known || (known.deploymentId === UNASSIGNED_DEPLOYMENT && push.namesStack)) return { outcome: 'unknown', version: known?.version ?? 0 };
  // What the push lists replaces the record's; what it leaves out stays (a deleted server's
  // addresses are left out by the push applier, not here).
  const keep = !push.addresses;
  const observation: InstanceObservation = {
    id: known.id,
    deploymentId: known.deploymentId,
    name: known.name,
    state: push.state,
    backend: { id: push.backendId, kind: known.backend.kind, status: push.rawStatus },
    addresses: keep ? known.addresses : { public: push.addresses!.public ?? known.addresses.public, private: push.addresses!.private },
    updatedAt: push.atMs === null ? known.updatedAt : new Date(push.atMs).toISOString(),
  };
  return store.observeInstance(observation, { source: 'webhook', observedAtMs: push.observedAtMs });
}

describe('StateStore.observePushes: the script patches the cached record (real Redis)', () => {
  const ctx = useRedis();
  let store: StateStore;
  let feed: ChangeFeed;

  beforeEach(() => ({ store, feed } = storeAndFeed(ctx)));

  const push = (overrides: Partial<InstancePush> = {}): InstancePush => ({
    id: 'srv-1',
    backendId: 'heat-1',
    state: 'stopped',
    rawStatus: 'SHUTOFF',
    atMs: Date.parse(at(5)),
    namesStack: true,
    observedAtMs: Date.parse(at(5)),
    ...overrides,
  });

  it('keeps the deployment, name, kind and public addresses of the record, takes state, status, private addresses and time from the push', async () => {
    await store.observeInstance(instanceObs({ addresses: { public: ['172.24.4.9'], private: ['10.0.0.5'] } }), { source: 'cached-poll', observedAtMs: Date.parse(at(1)) });
    const [result] = await store.observePushes([push({ addresses: { private: ['10.0.0.7', '10.0.0.6'] } })], { source: 'webhook' });
    expect(result).to.include({ outcome: 'changed', version: 2, event: 'instance.state_changed' });
    expect(await store.getInstance('srv-1')).to.deep.equal({
      id: 'srv-1',
      deploymentId: 'stack-1',
      name: 'web',
      state: 'stopped',
      backend: { id: 'heat-1', kind: 'heat', status: 'SHUTOFF' },
      addresses: { public: ['172.24.4.9'], private: ['10.0.0.6', '10.0.0.7'] },
      updatedAt: at(5),
      source: 'webhook',
      observedAt: at(5),
      version: 2,
    });
    const [entry] = (await feed.read('0', 10)).entries.slice(-1);
    expect(JSON.parse(entry!.json)).to.deep.include({ type: 'instance.state_changed', occurredAt: at(5) });
  });

  it('without a time keeps the record\'s updatedAt and dates the event by it', async () => {
    await store.observeInstance(instanceObs({ updatedAt: at(2) }), { source: 'cached-poll', observedAtMs: Date.parse(at(2)) });
    await store.observePushes([push({ atMs: null, observedAtMs: Date.parse(at(9)) })], { source: 'webhook' });
    expect(await store.getInstance('srv-1')).to.include({ state: 'stopped', updatedAt: at(2), observedAt: at(9) });
    const [entry] = (await feed.read('0', 10)).entries.slice(-1);
    expect(JSON.parse(entry!.json).occurredAt).to.equal(at(2));
  });

  it('patches a record of the earlier layout (content stored twice) and rewrites it in the new one', async () => {
    await store.observeInstance(instanceObs({ addresses: { public: ['172.24.4.9'], private: ['10.0.0.5'] } }), { source: 'cached-poll', observedAtMs: Date.parse(at(1)) });
    const key = `${ctx.prefix}i:srv-1`;
    await asLayoutBeforeW(ctx.redis, key);
    const [result] = await store.observePushes([push({ atMs: null })], { source: 'webhook' });
    expect(result).to.include({ outcome: 'changed', version: 2, event: 'instance.state_changed' });
    expect(Object.keys(await ctx.redis.hgetall(key)).sort()).to.deep.equal(['bk', 'g', 'j', 'st', 'w']);
    expect(await store.getInstance('srv-1')).to.deep.include({
      deploymentId: 'stack-1',
      state: 'stopped',
      backend: { id: 'heat-1', kind: 'heat', status: 'SHUTOFF' },
      addresses: { public: ['172.24.4.9'], private: ['10.0.0.5'] },
      updatedAt: '2026-11-25T10:00:00.000Z',
    });
  });

  it('answers unknown, writing nothing, for an instance not cached or cached without the stack the push names', async () => {
    await store.observeInstance(instanceObs({ id: 'srv-u', deploymentId: UNASSIGNED_DEPLOYMENT }), { source: 'deltacloud-poll' });
    const results = await store.observePushes([push({ id: 'srv-none' }), push({ id: 'srv-u' }), push({ id: 'srv-u', namesStack: false })], { source: 'webhook' });
    expect(results.map((r) => r.outcome)).to.deep.equal(['unknown', 'unknown', 'changed']);
    expect(await store.getInstance('srv-none')).to.equal(null);
    expect((await feed.read('0', 10)).entries.map((e) => e.type)).to.deep.equal(['instance.created', 'instance.state_changed']);
  });

  it('refuses a batch with an invalid push or one without a usable time, naming it, and writes nothing', async () => {
    await store.observeInstance(instanceObs(), { source: 'cached-poll' });
    for (const [bad, path] of [
      [push({ state: 'ACTIVE' as InstancePush['state'] }), 'pushes.1.state'],
      [push({ observedAtMs: Number.NaN }), 'pushes.1.observedAtMs'],
    ] as const) {
      const error = await store.observePushes([push(), bad], { source: 'webhook' }).then(
        () => null,
        (e: Error & { errors?: { path: string }[] }) => e,
      );
      expect(error?.errors?.map((e) => e.path)).to.deep.equal([path]);
    }
    expect(await store.getInstance('srv-1')).to.include({ state: 'running', version: 1 });
  });

  it('orders each push by its own time: an older one later in the batch never overwrites a newer one', async () => {
    await store.observeInstance(instanceObs({ updatedAt: null }), { source: 'cached-poll', observedAtMs: Date.parse(at(1)) });
    // No backend time, so the push's time decides (the case where the per-push time matters).
    const results = await store.observePushes(
      [push({ state: 'stopped', atMs: null, observedAtMs: Date.parse(at(20)) }), push({ state: 'running', atMs: null, observedAtMs: Date.parse(at(10)) })],
      { source: 'webhook' },
    );
    expect(results.map((r) => r.outcome)).to.deep.equal(['changed', 'stale']);
    expect(await store.getInstance('srv-1')).to.include({ state: 'stopped', observedAt: at(20), version: 2 });
  });

  it('stores each push\'s own observedAt, dates its event by it, and scores its tombstone by it, across script calls', async () => {
    const ids = Array.from({ length: OBSERVE_BATCH + 5 }, (_, n) => `srv-${n}`);
    await store.observeInstances(ids.map((id) => instanceObs({ id, updatedAt: null })), { source: 'cached-poll', observedAtMs: Date.parse(at(1)) });
    const results = await store.observePushes(
      ids.map((id, n) => push({ id, state: 'vanished', atMs: null, observedAtMs: Date.parse(at(100 + (n % 7))) })),
      { source: 'webhook' },
    );
    expect(new Set(results.map((r) => r.outcome))).to.deep.equal(new Set(['changed']));
    const docs = await store.getInstances(ids);
    docs.forEach((doc, n) => expect(doc, ids[n]).to.include({ state: 'vanished', observedAt: at(100 + (n % 7)) }));
    const events = (await feed.read('0', 1_000)).entries.filter((e) => e.type === 'instance.deleted');
    expect(events.map((e) => JSON.parse(e.json).occurredAt)).to.deep.equal(ids.map((_, n) => at(100 + (n % 7))));
    const scores = await ctx.redis.zmscore(`${ctx.prefix}tomb`, ...ids.map((id) => `i:${id}`));
    expect(scores.map(Number)).to.deep.equal(ids.map((_, n) => Date.parse(at(100 + (n % 7)))));
  });

  it('a batch of pushes ends exactly where the reference ends: read, merge, observe alone (seeded property)', async () => {
    // Names and addresses with what a careless splice would trip on.
    const text = fc.constantFrom('web', 'db', 'a","state":"running', 'x\\', '],"private":["1"]', 'ü "q"', '');
    const record = fc.record({
      deploymentId: fc.constantFrom('stack-1', 'stack-2', UNASSIGNED_DEPLOYMENT),
      name: text,
      state: fc.constantFrom(...INSTANCE_STATES),
      kind: fc.constantFrom('heat', 'deltacloud'),
      status: fc.option(fc.constantFrom('ACTIVE', 'SHUTOFF', 'x"y'), { nil: null }),
      public: fc.array(text, { maxLength: 2 }),
      private: fc.array(text, { maxLength: 2 }),
      updated: fc.option(fc.integer({ min: 0, max: 6 }), { nil: null }),
      seconds: fc.integer({ min: 0, max: 6 }),
    });
    const step = fc.record({
      id: fc.constantFrom(...IDS),
      backendId: fc.constantFrom('heat-1', 'heat-2'),
      state: fc.constantFrom('running', 'stopped', 'error', 'vanished'),
      rawStatus: fc.option(fc.constantFrom('ACTIVE', 'SHUTOFF', 'ERROR', 'a\\"b'), { nil: null }),
      addresses: fc.option(fc.record({ public: fc.option(fc.array(text, { maxLength: 2 }), { nil: undefined }), private: fc.array(text, { maxLength: 2 }) }), { nil: undefined }),
      atMs: fc.option(fc.integer({ min: 0, max: 12 }).map((s) => Date.parse(at(s))), { nil: null }),
      namesStack: fc.boolean(),
      observedAtMs: fc.integer({ min: 0, max: 12 }).map((s) => Date.parse(at(s))),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(record, { nil: null }), { minLength: 3, maxLength: 3 }), fc.oneof(fc.array(step, { minLength: 1, maxLength: 30 }), fc.array(step, { minLength: OBSERVE_BATCH - 5, maxLength: OBSERVE_BATCH + 20, size: 'max' })), async (records, steps) => {
        const reference = testPrefix();
        const patched = testPrefix();
        try {
          const stores = [new StateStore(ctx.redis, reference, FEED_LIMITS), new StateStore(ctx.redis, patched, FEED_LIMITS)] as const;
          for (const s of stores) {
            for (const [n, r] of records.entries()) {
              if (!r) continue;
              const observation = instanceObs({
                id: IDS[n],
                deploymentId: r.deploymentId,
                name: r.name,
                state: r.state,
                backend: { id: 'heat-1', kind: r.kind, status: r.status },
                addresses: { public: r.public, private: r.private },
                updatedAt: r.updated === null ? null : at(r.updated),
              });
              await s.observeInstance(observation, { source: 'cached-poll', observedAtMs: Date.parse(at(r.seconds)) });
            }
          }
          const pushes: InstancePush[] = steps.map((s) => ({ ...s, ...(s.addresses ? { addresses: s.addresses.public ? s.addresses : { private: s.addresses.private } } : {}) }));
          const expected = [];
          for (const p of pushes) expected.push(await referencePush(stores[0], p));
          const actual = await stores[1].observePushes(pushes, { source: 'webhook' });
          const shape = (r: Pick<ObserveResult, 'outcome' | 'version' | 'event'>) => `${r.outcome}/${r.version}/${r.event ?? ''}`;
          expect(actual.map(shape)).to.deep.equal(expected.map(shape));
          const docs = async (s: StateStore): Promise<(Instance | null)[]> => s.getInstances(IDS);
          expect(await docs(stores[1])).to.deep.equal(await docs(stores[0]));
          const events = async (prefix: string) =>
            (await new ChangeFeed(ctx.redis, prefix, FEED_LIMITS).read('0', 1_000)).entries.map((e) => {
              const { type, occurredAt, data } = JSON.parse(e.json) as { type: string; occurredAt: string; data: unknown };
              return { type, occurredAt, data: JSON.stringify(data).replaceAll(/"cursor":"[^"]*"/g, '') };
            });
          expect(await events(patched)).to.deep.equal(await events(reference));
          // Every index (all, per backend, state, deployment; tombstones with their scores).
          const indexes = async (prefix: string) => {
            const keys = (await ctx.redis.keys(`${prefix}*`)).filter((k) => !k.startsWith(`${prefix}i:`) && k !== `${prefix}feed`).map((k) => k.slice(prefix.length));
            const out: Record<string, string[]> = {};
            for (const key of keys.sort()) out[key] = await ctx.redis.zrange(`${prefix}${key}`, '0', '-1', 'WITHSCORES');
            return out;
          };
          expect(await indexes(patched)).to.deep.equal(await indexes(reference));
        } finally {
          await deletePrefix(ctx.redis, reference);
          await deletePrefix(ctx.redis, patched);
        }
      }),
      { numRuns: 30, seed: 10 },
    );
  });
});
