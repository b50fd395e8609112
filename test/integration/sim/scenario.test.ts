import { expect } from 'chai';
import { startSimulator, type Simulator } from '../../../src/sim/simulator.js';
import { mapDeltacloudState, mapHeatResourceStatus, mapNovaStatus } from '../../../src/model/states.js';

describe('sim scenario engine (virtual time)', () => {
  const sims: Simulator[] = [];
  afterEach(async () => {
    await Promise.all(sims.splice(0).map((s) => s.close()));
  });

  async function sim(seed: number | string, extra: Parameters<typeof startSimulator>[0] = {}): Promise<Simulator> {
    const s = await startSimulator({ clock: 'manual', seed, deployments: 20, instancesPerDeployment: 3, changeRate: 2, ...extra });
    sims.push(s);
    return s;
  }

  it('replays the same truth sequence from the same seed', async () => {
    const [a, b, c] = await Promise.all([sim(42), sim(42), sim(43)]);
    for (const s of [a, b, c]) {
      for (let i = 0; i < 60; i++) s.handle.advance(1_000);
    }
    const ta = a.handle.truth();
    const tb = b.handle.truth();
    expect(ta.length).to.be.greaterThan(60 + 20 * 4);
    expect(tb).to.deep.equal(ta);
    expect(a.handle.world()).to.deep.equal(b.handle.world());
    // A different seed gives a different world, so the comparison above can fail.
    expect(c.handle.truth()).to.not.deep.equal(ta);
    const kinds = new Set(ta.map((r) => r.kind));
    for (const k of ['initial', 'launch', 'launch_complete', 'crash', 'reboot', 'reboot_complete', 'delete', 'delete_complete']) {
      expect(kinds, k).to.include(k);
    }
  });

  it('is deterministic however virtual time is chopped up', async () => {
    const [a, b] = await Promise.all([sim(7), sim(7)]);
    a.handle.advance(30_000);
    for (let i = 0; i < 300; i++) b.handle.advance(100);
    expect(b.handle.truth()).to.deep.equal(a.handle.truth());
  });

  it('records raw values every state map understands', async () => {
    const s = await sim(5);
    s.handle.advance(60_000);
    for (const r of s.handle.truth()) {
      if (r.novaStatus) expect(mapNovaStatus(r.novaStatus), r.novaStatus).to.not.equal('unknown');
      if (r.resourceStatus) expect(mapHeatResourceStatus(r.resourceStatus)).to.not.equal('unknown');
      if (r.deltacloudState) expect(mapDeltacloudState(r.deltacloudState)).to.not.equal('unknown');
      expect(new Date(r.at).getTime()).to.equal(r.atMs);
    }
  });

  it('crash changes Nova and Deltacloud but not the Heat resource_status', async () => {
    const s = await sim(1, { changeRate: 0 });
    const target = s.handle.world().instances[0]!;
    const [rec] = s.handle.applyChange('crash', target.id, { crashTo: 'SHUTOFF' });
    expect(rec).to.include({ kind: 'crash', instanceId: target.id, novaStatus: 'SHUTOFF', resourceStatus: 'CREATE_COMPLETE', deltacloudState: 'STOPPED' });
    const after = s.handle.world().instances.find((i) => i.id === target.id)!;
    expect(after.resourceStatus).to.equal('CREATE_COMPLETE');
    expect(after.novaStatus).to.equal('SHUTOFF');
  });

  it('a short reboot returns to ACTIVE after the reboot window', async () => {
    const s = await sim(1, { changeRate: 0, rebootWindowMs: 3_000 });
    const target = s.handle.world().instances[1]!;
    const [rec] = s.handle.applyChange('reboot', target.id);
    expect(rec).to.include({ novaStatus: 'REBOOT', deltacloudState: 'PENDING' });
    expect(s.handle.advance(2_999)).to.have.length(0);
    const [done] = s.handle.advance(1);
    expect(done).to.include({ kind: 'reboot_complete', instanceId: target.id, novaStatus: 'ACTIVE', deltacloudState: 'RUNNING' });
  });

  it('launch, create failure and deletion walk through the Heat states', async () => {
    const s = await sim(1, { changeRate: 0, launchDurationMs: 5_000, deleteDurationMs: 2_000 });
    const launched = s.handle.applyChange('launch');
    const stackId = launched[0]!.deploymentId;
    expect(launched[0]).to.include({ stackStatus: 'CREATE_IN_PROGRESS', instanceId: null });
    expect(launched.slice(1).map((r) => r.novaStatus)).to.deep.equal(['BUILD', 'BUILD', 'BUILD']);
    const done = s.handle.advance(5_000);
    expect(done.at(-1)).to.include({ kind: 'launch_complete', stackStatus: 'CREATE_COMPLETE' });
    expect(done.filter((r) => r.instanceId).every((r) => r.novaStatus === 'ACTIVE')).to.equal(true);

    const failed = s.handle.applyChange('create_failure');
    const end = s.handle.advance(5_000);
    expect(end.at(-1)).to.include({ kind: 'create_failed', stackStatus: 'CREATE_FAILED', deploymentId: failed[0]!.deploymentId });
    expect(end.some((r) => r.novaStatus === 'ERROR' && r.resourceStatus === 'CREATE_FAILED')).to.equal(true);

    const del = s.handle.applyChange('delete', stackId);
    expect(del[0]).to.include({ stackStatus: 'DELETE_IN_PROGRESS' });
    const gone = s.handle.advance(2_000);
    expect(gone.at(-1)).to.include({ kind: 'delete_complete', stackStatus: 'DELETE_COMPLETE' });
    expect(gone.filter((r) => r.instanceId).every((r) => r.novaStatus === 'DELETED' && r.deltacloudState === null)).to.equal(true);
    const world = s.handle.world();
    expect(world.deployments.map((d) => d.id)).to.not.include(stackId);
    expect(world.instances.filter((i) => i.deploymentId === stackId)).to.have.length(0);
  });

  it('truth since a sequence number or an ISO time', async () => {
    const s = await sim(3);
    s.handle.advance(10_000);
    const all = s.handle.truth();
    const mid = all[Math.floor(all.length / 2)]!;
    expect(s.handle.truth(mid.seq)[0]!.seq).to.equal(mid.seq + 1);
    expect(s.handle.truth(mid.at).every((r) => r.atMs > mid.atMs)).to.equal(true);
  });
});
