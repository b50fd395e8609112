import { expect } from 'chai';
import { Redis } from 'ioredis';
import { StateStore } from '../../../src/store/state-store.js';
import { ChangeFeed } from '../../../src/store/change-feed.js';
import { InputError } from '../../../src/errors.js';
import type { Instance, InstanceObservation } from '../../../src/model/types.js';
import type { InstanceState } from '../../../src/model/states.js';
import { useRedis } from '../../helpers/redis.js';
import { at, deploymentObs, instanceObs } from '../../helpers/observations.js';
import { FEED_LIMITS, pagedInstanceIds, storeAndFeed } from '../../helpers/store.js';

describe('StateStore (real Redis)', () => {
  const ctx = useRedis();
  let store: StateStore;
  let feed: ChangeFeed;

  beforeEach(() => ({ store, feed } = storeAndFeed(ctx)));

  async function events() {
    const page = await feed.read('0', 1_000);
    return page.entries.map((e) => ({ ...e, event: JSON.parse(e.json) as { id: string; type: string; data: { current: Instance; previous: Instance | null } } }));
  }

  describe('observe', () => {
    it('creates an instance, stores the served form and appends instance.created', async () => {
      const result = await store.observeInstance(instanceObs(), { source: 'cached-poll', observedAtMs: Date.parse(at(1)) });
      expect(result).to.include({ outcome: 'changed', version: 1 });
      expect(result.cursor).to.match(/^\d+-\d+$/);

      const stored = await store.getInstance('srv-1');
      expect(stored).to.deep.equal({
        ...instanceObs(),
        updatedAt: '2026-11-25T10:00:00.000Z',
        source: 'cached-poll',
        observedAt: at(1),
        version: 1,
      });
      const [first, ...rest] = await events();
      expect(rest).to.have.length(0);
      expect(first!.type).to.equal('instance.created');
      expect(first!.cursor).to.equal(result.cursor);
      expect(first!.event.id).to.match(/^evt_[0-9a-f]{32}$/);
      expect(first!.event.data.previous).to.equal(null);
      expect(first!.event.data.current).to.deep.equal(stored);
    });

    it('an identical observation only refreshes observedAt: same version, no event', async () => {
      await store.observeInstance(instanceObs(), { source: 'cached-poll', observedAtMs: Date.parse(at(1)) });
      const again = await store.observeInstance(
        instanceObs({ addresses: { public: [], private: ['10.0.0.5'] } }),
        { source: 'webhook', observedAtMs: Date.parse(at(9)) },
      );
      expect(again).to.deep.equal({ outcome: 'refreshed', version: 1 });
      const stored = await store.getInstance('srv-1');
      expect(stored).to.include({ observedAt: at(9), version: 1, source: 'webhook' });
      expect(await events()).to.have.length(1);
    });

    it('address order does not count as a change', async () => {
      await store.observeInstance(instanceObs({ addresses: { public: ['1.1.1.1', '2.2.2.2'], private: [] } }), { source: 's' });
      const again = await store.observeInstance(instanceObs({ addresses: { public: ['2.2.2.2', '1.1.1.1'], private: [] } }), { source: 's' });
      expect(again.outcome).to.equal('refreshed');
    });

    it('a real change bumps the version and names the kind of change', async () => {
      const steps: [Partial<InstanceObservation>, string][] = [
        [{ state: 'pending', backend: { id: 'heat-1', kind: 'heat', status: 'BUILD' }, updatedAt: at(0) }, 'instance.created'],
        [{ state: 'running', backend: { id: 'heat-1', kind: 'heat', status: 'ACTIVE' }, updatedAt: at(10) }, 'instance.state_changed'],
        [{ state: 'running', addresses: { public: ['172.24.4.9'], private: ['10.0.0.5'] }, updatedAt: at(20) }, 'instance.updated'],
        [{ state: 'vanished', backend: { id: 'heat-1', kind: 'heat', status: 'DELETED' }, updatedAt: at(30) }, 'instance.deleted'],
      ];
      for (const [i, [change]] of steps.entries()) {
        const result = await store.observeInstance(instanceObs(change), { source: 'cached-poll' });
        expect(result).to.include({ outcome: 'changed', version: i + 1 });
      }
      const all = await events();
      expect(all.map((e) => e.type)).to.deep.equal(steps.map(([, type]) => type));
      expect(all.map((e) => e.event.data.current.version)).to.deep.equal([1, 2, 3, 4]);
      expect(all[1]!.event.data.previous!.state).to.equal('pending');
      expect(all[1]!.event.data.current.state).to.equal('running');
    });

    it('a change that keeps the content the same length is still a change', async () => {
      // The script compares the stored content in place when the lengths match.
      const steps: [Partial<InstanceObservation>, string][] = [
        [{ state: 'running', backend: { id: 'heat-1', kind: 'heat', status: 'ACTIVE' }, name: 'web-1' }, 'instance.created'],
        [{ state: 'stopped', backend: { id: 'heat-1', kind: 'heat', status: 'PAUSED' }, name: 'web-1' }, 'instance.state_changed'],
        [{ state: 'stopped', backend: { id: 'heat-1', kind: 'heat', status: 'PAUSED' }, name: 'web-2' }, 'instance.updated'],
      ];
      for (const [i, [change, type]] of steps.entries()) {
        const result = await store.observeInstance(instanceObs(change), { source: 's', observedAtMs: Date.parse(at(i)) });
        expect(result, type).to.include({ outcome: 'changed', version: i + 1, event: type });
      }
      const again = await store.observeInstance(instanceObs(steps[2]![0]), { source: 's', observedAtMs: Date.parse(at(9)) });
      expect(again).to.deep.equal({ outcome: 'refreshed', version: 3 });
      expect(await store.getInstance('srv-1')).to.include({ name: 'web-2', state: 'stopped', observedAt: at(9), version: 3 });
    });

    it('ignores the first sighting of an instance that is already gone', async () => {
      const result = await store.observeInstance(instanceObs({ state: 'vanished' }), { source: 's' });
      expect(result.outcome).to.equal('ignored');
      expect(await store.getInstance('srv-1')).to.equal(null);
      expect(await events()).to.have.length(0);
    });

    it('rejects an invalid observation with the field named and writes nothing', async () => {
      const bad = [instanceObs({ id: 'ok' }), { ...instanceObs({ id: 'x' }), state: 'sleeping' as InstanceState }];
      const err = await store.observeInstances(bad, { source: 's' }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(InputError);
      expect((err as InputError).errors[0]!.path).to.equal('observations.1.state');
      expect(await store.counts()).to.deep.equal({ instances: 0, deployments: 0 });
    });

    it('keeps JSON-hostile text intact (quotes, backslashes, unicode)', async () => {
      const name = 'we"b\\1 ☃ </script>';
      await store.observeInstance(instanceObs({ name }), { source: 's' });
      expect((await store.getInstance('srv-1'))!.name).to.equal(name);
      expect((await events())[0]!.event.data.current.name).to.equal(name);
    });
  });

  describe('ordering', () => {
    it('an older observation written last never regresses the stored state', async () => {
      await store.observeInstance(instanceObs({ state: 'stopped', backend: { id: 'heat-1', kind: 'heat', status: 'SHUTOFF' }, updatedAt: at(20) }), { source: 's' });
      const late = await store.observeInstance(instanceObs({ state: 'running', updatedAt: at(10) }), { source: 's' });
      expect(late).to.deep.equal({ outcome: 'stale', version: 1 });
      expect((await store.getInstance('srv-1'))!.state).to.equal('stopped');
      expect(await events()).to.have.length(1);
    });

    it('an older observation of the same content confirms it: observedAt moves on, updatedAt and version stay', async () => {
      // A push stored the state with the notification's time; the resync's listing carries
      // Heat's older backend time for the same state and must still count as a refresh.
      await store.observeInstance(instanceObs({ updatedAt: at(20) }), { source: 'webhook', observedAtMs: Date.parse(at(21)) });
      const resync = await store.observeInstance(instanceObs({ updatedAt: at(10) }), { source: 'webhook', observedAtMs: Date.parse(at(600)) });
      expect(resync).to.deep.equal({ outcome: 'refreshed', version: 1 });
      expect(await store.getInstance('srv-1')).to.include({ observedAt: at(600), updatedAt: at(20), version: 1 });
      expect(await events()).to.have.length(1);
    });

    it('without backend times, the observation time decides', async () => {
      const dc = { id: 'dc-1', kind: 'deltacloud' as const, status: 'RUNNING' };
      await store.observeInstance(instanceObs({ backend: dc, updatedAt: null }), { source: 's', observedAtMs: 2_000 });
      const late = await store.observeInstance(
        instanceObs({ state: 'pending', backend: { ...dc, status: 'PENDING' }, updatedAt: null }),
        { source: 's', observedAtMs: 1_000 },
      );
      expect(late.outcome).to.equal('stale');
    });

    it('never regresses whatever order 100 observations of one instance arrive in', async () => {
      const states: InstanceState[] = ['pending', 'running', 'stopped', 'error'];
      const history = Array.from({ length: 100 }, (_, i) =>
        instanceObs({ state: states[i % 4]!, backend: { id: 'heat-1', kind: 'heat', status: `S${i}` }, updatedAt: at(i) }),
      );
      const shuffled = [...history].sort(() => Math.random() - 0.5);
      let newest = -1;
      for (const obs of shuffled) {
        await store.observeInstance(obs, { source: 's' });
        newest = Math.max(newest, Number(obs.backend.status!.slice(1)));
        expect((await store.getInstance('srv-1'))!.backend.status).to.equal(`S${newest}`);
      }
      // Every accepted write was newer than the one before it: versions and feed agree.
      const stored = await store.getInstance('srv-1');
      const feedEvents = await events();
      expect(feedEvents).to.have.length(stored!.version);
      expect(feedEvents.map((e) => e.event.data.current.version)).to.deep.equal(feedEvents.map((_, i) => i + 1));
    });

    it('two writers racing through the same 1,000 changes leave one event per change', async () => {
      // 50 instances × 20 changes; both writers write every change, in order, interleaved.
      const instances = 50;
      const perInstance = 20;
      const changes: InstanceObservation[] = [];
      for (let step = 0; step < perInstance; step++) {
        for (let n = 0; n < instances; n++) {
          changes.push(
            instanceObs({
              id: `srv-${n}`,
              state: step % 2 === 0 ? 'running' : 'stopped',
              backend: { id: 'heat-1', kind: 'heat', status: step % 2 === 0 ? 'ACTIVE' : 'SHUTOFF' },
              addresses: { public: [`172.24.${n}.${step}`], private: [] },
              updatedAt: at(step),
            }),
          );
        }
      }
      const writerA = new Redis(ctx.url);
      const writerB = new Redis(ctx.url);
      try {
        const write = async (redis: Redis, chunk: number) => {
          const writer = new StateStore(redis, ctx.prefix, FEED_LIMITS);
          for (let i = 0; i < changes.length; i += chunk) {
            await writer.observeInstances(changes.slice(i, i + chunk), { source: 'race' });
          }
        };
        // Different chunk sizes keep the two writers out of lock step.
        await Promise.all([write(writerA, 7), write(writerB, 13)]);
      } finally {
        writerA.disconnect();
        writerB.disconnect();
      }
      const all = await feed.read('0', 1_000);
      const more = await feed.read(all.next, 1_000);
      expect(all.entries.length + more.entries.length).to.equal(1_000);
      const seen = new Set(all.entries.map((e) => `${e.subject}@${(JSON.parse(e.json) as { data: { current: Instance } }).data.current.version}`));
      expect(seen.size).to.equal(1_000);
      for (let n = 0; n < instances; n++) {
        expect((await store.getInstance(`srv-${n}`))!.version).to.equal(perInstance);
      }
    });
  });

  describe('complete listings', () => {
    const seed = async () =>
      store.observeInstances(
        ['a', 'b', 'c'].map((id) => instanceObs({ id })),
        { source: 'cached-poll' },
      );

    it('marks an instance vanished only after two consecutive listings miss it', async () => {
      await seed();
      expect(await store.completeInstanceListing({ deploymentId: 'stack-1' }, ['a', 'b'], { source: 'cached-poll' })).to.deep.equal([]);
      expect((await store.getInstance('c'))!.state).to.equal('running');
      const vanished = await store.completeInstanceListing({ deploymentId: 'stack-1' }, ['a', 'b'], { source: 'cached-poll' });
      expect(vanished).to.deep.equal(['c']);
      const c = await store.getInstance('c');
      expect(c).to.include({ state: 'vanished', version: 2 });
      const types = (await events()).map((e) => `${e.type}:${e.subject}`);
      expect(types.slice(-1)).to.deep.equal(['instance.deleted:c']);
      // Already vanished: later listings change nothing.
      expect(await store.completeInstanceListing({ deploymentId: 'stack-1' }, ['a', 'b'], { source: 'cached-poll' })).to.deep.equal([]);
    });

    it('a sighting in between resets the count', async () => {
      await seed();
      await store.completeInstanceListing({ deploymentId: 'stack-1' }, ['a', 'b'], { source: 's' });
      await store.completeInstanceListing({ deploymentId: 'stack-1' }, ['a', 'b', 'c'], { source: 's' });
      expect(await store.completeInstanceListing({ deploymentId: 'stack-1' }, ['a', 'b'], { source: 's' })).to.deep.equal([]);
      expect((await store.getInstance('c'))!.state).to.equal('running');
    });

    it('works per backend scope too (Deltacloud listings)', async () => {
      const dc = { id: 'dc-1', kind: 'deltacloud' as const, status: 'RUNNING' };
      await store.observeInstances(['x', 'y'].map((id) => instanceObs({ id, backend: dc, updatedAt: null })), { source: 'deltacloud-poll' });
      await store.completeInstanceListing({ backendId: 'dc-1' }, ['x'], { source: 'deltacloud-poll' });
      expect(await store.completeInstanceListing({ backendId: 'dc-1' }, ['x'], { source: 'deltacloud-poll' })).to.deep.equal(['y']);
    });

    it('deletes a deployment missing from two stack listings', async () => {
      await store.observeDeployments([deploymentObs({ id: 's1' }), deploymentObs({ id: 's2' })], { source: 's' });
      expect(await store.completeDeploymentListing('heat-1', ['s1'], { source: 's' })).to.deep.equal({ deleted: [], missedOnce: ['s2'] });
      expect(await store.completeDeploymentListing('heat-1', ['s1'], { source: 's' })).to.deep.equal({ deleted: ['s2'], missedOnce: [] });
      expect(await store.getDeployment('s2')).to.include({ status: 'DELETE_COMPLETE', version: 2 });
      expect((await events()).map((e) => e.type)).to.deep.equal(['deployment.created', 'deployment.created', 'deployment.deleted']);
    });
  });

  describe('deployments', () => {
    it('stores status changes and serves instanceIds from the index', async () => {
      await store.observeDeployment(deploymentObs(), { source: 's' });
      await store.observeInstances([instanceObs({ id: 'b' }), instanceObs({ id: 'a' })], { source: 's' });
      const changed = await store.observeDeployment(
        deploymentObs({ status: 'CREATE_COMPLETE', statusReason: 'Stack CREATE completed successfully', updatedAt: at(5), outputs: [{ key: 'url', value: 'http://x' }] }),
        { source: 's' },
      );
      expect(changed).to.include({ outcome: 'changed', version: 2 });
      const doc = await store.getDeployment('stack-1');
      expect(doc).to.deep.include({ status: 'CREATE_COMPLETE', instanceIds: ['a', 'b'], version: 2 });
      expect(doc!.outputs).to.deep.equal([{ key: 'url', value: 'http://x', description: null }]);
      const last = (await events()).at(-1)!;
      expect(last.type).to.equal('deployment.status_changed');
      expect((last.event.data.current as unknown as { instanceIds: string[] }).instanceIds).to.deep.equal(['a', 'b']);
    });

    it('moves an instance between deployment indexes when its deployment changes', async () => {
      await store.observeInstance(instanceObs({ deploymentId: 'unassigned', updatedAt: at(0) }), { source: 's' });
      await store.observeInstance(instanceObs({ deploymentId: 'stack-9', updatedAt: at(1) }), { source: 's' });
      expect(await store.instanceIdsOf('unassigned')).to.deep.equal([]);
      expect(await store.instanceIdsOf('stack-9')).to.deep.equal(['srv-1']);
    });
  });

  describe('reads', () => {
    beforeEach(async () => {
      const obs = Array.from({ length: 25 }, (_, i) =>
        instanceObs({
          id: `i-${String(i).padStart(3, '0')}`,
          deploymentId: i < 10 ? 'd-a' : 'd-b',
          state: i % 5 === 0 ? 'error' : 'running',
        }),
      );
      await store.observeInstances(obs, { source: 's' });
    });

    it('pages over all instances in id order', async () => {
      const ids: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.listInstancesJson({ limit: 10, ...(cursor ? { cursor } : {}) });
        ids.push(...page.items.map((j) => (JSON.parse(j) as Instance).id));
        cursor = page.next ?? undefined;
        pages++;
      } while (cursor);
      expect(pages).to.equal(3);
      expect(ids).to.deep.equal(Array.from({ length: 25 }, (_, i) => `i-${String(i).padStart(3, '0')}`));
    });

    it('a page that ends exactly at the end has no next cursor', async () => {
      const page = await store.listInstancesJson({ limit: 25 });
      expect(page.items).to.have.length(25);
      expect(page.next).to.equal(null);
    });

    it('filters by deployment, by state, and by both', async () => {
      const ids = async (q: Parameters<StateStore['listInstancesJson']>[0]) =>
        (await store.listInstancesJson(q)).items.map((j) => (JSON.parse(j) as Instance).id);
      expect(await ids({ limit: 100, deploymentId: 'd-a' })).to.have.length(10);
      expect(await ids({ limit: 100, state: 'error' })).to.deep.equal(['i-000', 'i-005', 'i-010', 'i-015', 'i-020']);
      expect(await ids({ limit: 100, state: 'error', deploymentId: 'd-b' })).to.deep.equal(['i-010', 'i-015', 'i-020']);
      const firstPage = await store.listInstancesJson({ limit: 2, state: 'error', deploymentId: 'd-b' });
      expect(firstPage.next).to.equal('i-015');
    });

    it('keeps the state index in step with changes', async () => {
      await store.observeInstance(instanceObs({ id: 'i-000', deploymentId: 'd-a', state: 'running', updatedAt: at(99) }), { source: 's' });
      const errors = await store.listInstancesJson({ limit: 100, state: 'error' });
      expect(errors.items).to.have.length(4);
    });

    it('indexes an instance under its last state when one call changes it twice', async () => {
      // One script call: the state index is written once, after every observation of the call.
      await store.observeInstances(
        [
          instanceObs({ id: 'i-001', deploymentId: 'd-a', state: 'stopped', updatedAt: at(98) }),
          instanceObs({ id: 'i-002', deploymentId: 'd-a', state: 'stopped', updatedAt: at(98) }),
          instanceObs({ id: 'i-001', deploymentId: 'd-a', state: 'error', updatedAt: at(99) }),
        ],
        { source: 's' },
      );
      expect(await pagedInstanceIds(store, { limit: 100, state: 'stopped' })).to.deep.equal(['i-002']);
      expect(await pagedInstanceIds(store, { limit: 100, state: 'error' })).to.deep.equal(['i-000', 'i-001', 'i-005', 'i-010', 'i-015', 'i-020']);
      expect(await pagedInstanceIds(store, { limit: 100, state: 'running' })).to.not.include.members(['i-001', 'i-002']);
    });

    const idsOf = (page: { items: string[] }) => page.items.map((j) => (JSON.parse(j) as Instance).id);

    it('pages through one state from a cursor that has since left it, or was never in it', async () => {
      const first = await store.listInstancesJson({ limit: 2, state: 'error' });
      expect(idsOf(first)).to.deep.equal(['i-000', 'i-005']);
      expect(first.next).to.equal('i-005');
      // The cursor's instance moves to a state scored after 'error', one to a state before.
      await store.observeInstance(instanceObs({ id: 'i-005', deploymentId: 'd-a', state: 'unknown', updatedAt: at(99) }), { source: 's' });
      await store.observeInstance(instanceObs({ id: 'i-012', deploymentId: 'd-b', state: 'error', updatedAt: at(99) }), { source: 's' });
      const second = await store.listInstancesJson({ limit: 2, state: 'error', cursor: 'i-005' });
      expect(idsOf(second)).to.deep.equal(['i-010', 'i-012']);
      expect((await store.listInstancesJson({ limit: 2, state: 'error', cursor: second.next! })).next).to.equal(null);
      // A cursor no instance has: the page starts after where it would sort.
      expect(idsOf(await store.listInstancesJson({ limit: 100, state: 'error', cursor: 'i-0101' }))).to.deep.equal(['i-012', 'i-015', 'i-020']);
      expect(idsOf(await store.listInstancesJson({ limit: 100, state: 'error', cursor: 'i-020' }))).to.deep.equal([]);
      expect(idsOf(await store.listInstancesJson({ limit: 100, state: 'error', cursor: 'z' }))).to.deep.equal([]);
      expect(idsOf(await store.listInstancesJson({ limit: 1, state: 'error', cursor: 'a' }))).to.deep.equal(['i-000']);
      expect(idsOf(await store.listInstancesJson({ limit: 100, state: 'pending' }))).to.deep.equal([]);
    });

    it('pages every state one id at a time, in Redis byte order whatever Lua makes of the ids', async () => {
      // Byte order: '-' < digits < upper case < '_' < lower case; a locale's collation differs.
      const odd = ['Z-1', 'Za', 'a-b', 'aB', 'a_b', '_x', '0-9'];
      await store.observeInstances(odd.map((id, i) => instanceObs({ id, deploymentId: 'd-c', state: i % 2 ? 'error' : 'running' })), { source: 's' });
      const expected = new Map<string, string[]>();
      for (const [id, state] of [...Array.from({ length: 25 }, (_, i) => [`i-${String(i).padStart(3, '0')}`, i % 5 === 0 ? 'error' : 'running']), ...odd.map((id, i) => [id, i % 2 ? 'error' : 'running'])]) {
        expected.set(state!, [...(expected.get(state!) ?? []), id!]);
      }
      for (const [state, ids] of expected) {
        const seen = await pagedInstanceIds(store, { limit: 1, state: state as InstanceState });
        expect(seen, state).to.deep.equal([...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
      }
    });
  });
});
