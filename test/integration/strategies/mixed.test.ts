/**
 * A strategy per backend (issue 14): a Heat cloud and a Deltacloud-only cloud in one gateway,
 * each on its own strategy, on a manual clock. Each meets its own strategy's bounds; switching
 * one backend's strategy leaves the other's polls, due times and feed untouched (its
 * simulator's request counts do not change); reads are routed to the owning backend's
 * strategy, and list reads combine both.
 */
import { expect } from 'chai';
import type { StatsSnapshot } from '../../../src/sim/request-stats.js';
import { STRATEGIES } from '../../../src/strategy/registry.js';
import { bearer, TOKENS } from '../../helpers/gateway.js';
import { compareWithWorld, startMixedWorld, startWorld, type MixedWorld } from '../../helpers/world.js';

const within = STRATEGIES.filter((d) => d.conformance.kind === 'within');
/** Scheduled strategies that read Heat only, and one that reads Deltacloud only. */
const HEAT = within.filter((d) => d.reads.length === 1 && d.reads[0] === 'heat');
const DELTACLOUD = within.find((d) => d.reads.length === 1 && d.reads[0] === 'deltacloud')!;

const boundOf = (name: string, bound: 'changeMs' | 'deletionMs') => {
  const d = STRATEGIES.find((s) => s.name === name)!;
  if (d.conformance.kind !== 'within') throw new Error(`${name} has no time bound`);
  return d.conformance[bound](d.options.parse({}));
};

/** Backend requests a simulator has answered, by API. */
const requests = (stats: StatsSnapshot) => Object.fromEntries(Object.entries(stats.apis).map(([api, s]) => [api, s.requests]));

async function feedEvents(world: MixedWorld) {
  const out: { type: string; data: Record<string, unknown> }[] = [];
  let after = '0';
  for (;;) {
    const page = await world.gateway.feed.read(after, 1_000);
    if (page.entries.length === 0) return out;
    for (const e of page.entries) out.push({ type: e.type, data: (JSON.parse(e.json) as { data: Record<string, unknown> }).data });
    after = page.next;
  }
}

describe('a strategy per backend: a Heat cloud and a Deltacloud-only cloud', function () {
  this.timeout(60_000);
  let world: MixedWorld;
  const [heatFirst, heatSecond] = [HEAT[0]!.name, HEAT[1]?.name ?? HEAT[0]!.name];

  beforeEach(async () => {
    world = await startMixedWorld({ heat: heatFirst, deltacloud: DELTACLOUD.name });
  });
  afterEach(() => world.close());

  const converged = async () => {
    expect(await compareWithWorld(world, 'heat', { sim: world.heatSim, backendId: 'heat-1' }), 'heat-1').to.deep.equal([]);
    expect(await compareWithWorld(world, 'deltacloud', { sim: world.dcSim, backendId: 'dc-1' }), 'dc-1').to.deep.equal([]);
  };

  it('runs one strategy per backend, and each meets its own bounds', async () => {
    const state = await world.runtime.describe();
    expect(state.backends.map((b) => [b.backendId, b.strategy, b.source, b.running])).to.deep.equal([
      ['heat-1', heatFirst, 'config', heatFirst],
      ['dc-1', DELTACLOUD.name, 'config', DELTACLOUD.name],
    ]);
    await world.advance(Math.max(boundOf(heatFirst, 'changeMs'), boundOf(DELTACLOUD.name, 'changeMs')));
    await converged();

    world.heatSim.handle.applyChange('crash', world.heatSim.handle.world().instances[0]!.id, { crashTo: 'ERROR' });
    world.dcSim.handle.applyChange('crash', world.dcSim.handle.world().instances[0]!.id, { crashTo: 'ERROR' });
    // The faster of the two bounds first: its backend has converged, whatever the other did.
    const [fast, slow] = [
      { backend: 'heat-1', sim: world.heatSim, source: 'heat' as const, ms: boundOf(heatFirst, 'changeMs') },
      { backend: 'dc-1', sim: world.dcSim, source: 'deltacloud' as const, ms: boundOf(DELTACLOUD.name, 'changeMs') },
    ].sort((a, b) => a.ms - b.ms);
    await world.advance(fast!.ms);
    expect(await compareWithWorld(world, fast!.source, { sim: fast!.sim, backendId: fast!.backend }), fast!.backend).to.deep.equal([]);
    await world.advance(slow!.ms - fast!.ms);
    await converged();

    // Each instance is served with the strategy of the backend that owns it.
    for (const [sim, name] of [
      [world.heatSim, heatFirst],
      [world.dcSim, DELTACLOUD.name],
    ] as const) {
      const res = await fetch(`${world.url}/v1/instances/${sim.handle.world().instances[0]!.id}`, { headers: bearer(TOKENS.client) });
      const doc = (await res.json()) as { meta: { strategy: string } };
      expect(doc.meta?.strategy, JSON.stringify(doc)).to.equal(name);
    }
    const list = (await (await fetch(`${world.url}/v1/instances?limit=1000`, { headers: bearer(TOKENS.client) })).json()) as { meta: { strategy: string } };
    expect(list.meta.strategy.split(',').sort()).to.deep.equal([heatFirst, DELTACLOUD.name].sort());
  });

  it('switching one backend leaves the other backend untouched', async () => {
    await world.advance(Math.max(boundOf(heatFirst, 'changeMs'), boundOf(DELTACLOUD.name, 'changeMs')));
    await converged();
    const dcBefore = requests(world.dcSim.handle.stats());
    const dueBefore = await world.runtime.scheduler.dueTimes(DELTACLOUD.name);
    const eventsBefore = (await feedEvents(world)).length;

    const res = await fetch(`${world.url}/admin/strategy`, {
      method: 'PUT',
      headers: { ...bearer(TOKENS.admin), 'content-type': 'application/json' },
      body: JSON.stringify({ name: heatSecond, backendId: 'heat-1' }),
    });
    expect(res.status).to.equal(200);
    const body = (await res.json()) as { changed: boolean; name: string; backends: { backendId: string; strategy: string; running: string }[] };
    expect(body.changed).to.equal(true);
    expect(body.backends.find((b) => b.backendId === 'heat-1')).to.include({ strategy: heatSecond, running: heatSecond });
    expect(body.backends.find((b) => b.backendId === 'dc-1')).to.include({ strategy: DELTACLOUD.name, running: DELTACLOUD.name });
    await world.settle();

    // The Deltacloud cloud saw no request, its schedule did not move, the feed says only the switch.
    expect(requests(world.dcSim.handle.stats())).to.deep.equal(dcBefore);
    expect(await world.runtime.scheduler.dueTimes(DELTACLOUD.name)).to.deep.equal(dueBefore);
    const added = (await feedEvents(world)).slice(eventsBefore);
    expect(added.filter((e) => e.type === 'gateway.strategy_changed')).to.deep.equal([
      { type: 'gateway.strategy_changed', data: { current: { strategy: heatSecond }, previous: { strategy: heatFirst }, by: 'admin:test-admin', backendId: 'heat-1' } },
    ]);
    expect(added.filter((e) => e.type !== 'gateway.strategy_changed' && JSON.stringify(e.data).includes('"dc-1"'))).to.deep.equal([]);

    // Both keep meeting their bounds after the switch.
    world.heatSim.handle.applyChange('crash', world.heatSim.handle.world().instances[1]!.id, { crashTo: 'SHUTOFF' });
    world.dcSim.handle.applyChange('crash', world.dcSim.handle.world().instances[1]!.id, { crashTo: 'SHUTOFF' });
    await world.advance(Math.max(boundOf(heatSecond, 'changeMs'), boundOf(DELTACLOUD.name, 'changeMs')));
    await converged();
  });

  it('refuses a strategy that cannot read the backend, and an unknown backend, changing nothing', async () => {
    const put = (body: unknown) =>
      fetch(`${world.url}/admin/strategy`, { method: 'PUT', headers: { ...bearer(TOKENS.admin), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const before = await world.runtime.describe();
    const unreadable = await put({ name: heatFirst, backendId: 'dc-1' });
    expect(unreadable.status).to.equal(400);
    const problem = (await unreadable.json()) as { errors: { path: string; message: string }[] };
    expect(problem.errors[0]!.path).to.equal('body.name');
    expect(problem.errors[0]!.message).to.include(`'${heatFirst}' cannot read a deltacloud backend`);
    const unknown = await put({ name: DELTACLOUD.name, backendId: 'dc-9' });
    expect(unknown.status).to.equal(404);
    expect(((await unknown.json()) as { detail: string }).detail).to.include("no backend 'dc-9' is configured; use one of heat-1, dc-1");
    expect(await world.runtime.describe()).to.deep.equal(before);
  });
});

describe('instance ownership: a Heat and a Deltacloud backend seeing the same servers', function () {
  this.timeout(60_000);

  it("keeps the Heat backend's view once it has seen them, ignores the other's, and counts it", async () => {
    // One simulator behind both backends: Deltacloud lists the very servers Heat's stacks hold.
    const world = await startWorld(HEAT[0]!.name, { manual: true, backendStrategies: { 'dc-1': DELTACLOUD.name } });
    try {
      const both = Math.max(boundOf(HEAT[0]!.name, 'changeMs'), boundOf(DELTACLOUD.name, 'changeMs'));
      await world.advance(both);
      for (const i of world.sim.handle.world().instances) {
        const cached = (await world.gateway.store.getInstance(i.id))!;
        expect(cached.backend, i.id).to.include({ id: 'heat-1', kind: 'heat' });
        expect(cached.deploymentId).to.equal(i.deploymentId);
      }
      const ignored = async () =>
        (await world.gateway.metrics.ownershipIgnored.get()).values.find((v) => v.labels.backend === 'dc-1' && v.labels.owner === 'heat-1')?.value ?? 0;
      const before = await ignored();
      const from = (await world.gateway.feed.info()).lastGeneratedCursor;
      // Deltacloud keeps listing them: ignored and counted, nothing of its view reaches the feed.
      await world.advance(boundOf(DELTACLOUD.name, 'changeMs'));
      expect(await ignored()).to.be.greaterThan(before);
      const page = await world.gateway.feed.read(from, 1_000);
      const fromDc = page.entries.filter((e) => e.type.startsWith('instance.') && e.json.includes('"id":"dc-1"'));
      expect(fromDc).to.deep.equal([]);
    } finally {
      await world.close();
    }
  });
});
