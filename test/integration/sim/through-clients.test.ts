/**
 * The simulator read through the real backend clients (Keystone → Heat, Deltacloud XML and
 * JSON) gives exactly the world in its ground truth. The simulator renders the wire formats
 * itself and the clients parse them independently, so each checks the other.
 */
import { expect } from 'chai';
import { DeltacloudClient } from '../../../src/backends/deltacloud-client.js';
import { HeatClient } from '../../../src/backends/heat-client.js';
import { deltacloudBackendSchema, heatBackendSchema } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/log/logger.js';
import { startSimulator, type Simulator } from '../../../src/sim/simulator.js';
import { expectedState, simBackends } from '../../helpers/world.js';

describe('simulator through the backend clients', () => {
  let sim: Simulator;
  let heat: HeatClient;

  before(async () => {
    sim = await startSimulator({ clock: 'manual', startTime: new Date().toISOString(), seed: 21, deployments: 5, instancesPerDeployment: 4 });
    // Some movement, so the world holds more than fresh ACTIVE servers.
    const ids = sim.handle.world().instances.map((i) => i.id);
    sim.handle.applyChange('crash', ids[0]!, { crashTo: 'ERROR' });
    sim.handle.applyChange('crash', ids[1]!, { crashTo: 'SHUTOFF' });
    sim.handle.applyChange('reboot', ids[2]!);
    sim.handle.applyChange('launch');
    const [heatConfig] = simBackends(sim);
    heat = new HeatClient(heatBackendSchema.parse(heatConfig), { logger: silentLogger(), pageSize: 2 });
  });
  after(() => sim.close());

  it('Heat: every stack (across pages) and every server with its live status and addresses', async () => {
    const world = sim.handle.world();
    const stacks = await heat.listStacks();
    expect(stacks.map((s) => s.id).sort()).to.deep.equal(world.deployments.map((d) => d.id).sort());
    for (const d of world.deployments) {
      expect(stacks.find((s) => s.id === d.id)!.stack_status).to.equal(d.stackStatus);
      const servers = await heat.listServers({ name: d.name, id: d.id });
      const want = world.instances.filter((i) => i.deploymentId === d.id);
      expect(servers.map((s) => s.id).sort(), d.name).to.deep.equal(want.map((i) => i.id).sort());
      for (const s of servers) {
        const truth = world.instances.find((i) => i.id === s.id)!;
        expect(s.state, s.id).to.equal(expectedState(truth, 'heat'));
        expect(s.backend.status).to.equal(truth.novaStatus);
        expect(s.addresses).to.deep.equal(truth.addresses);
        expect(s.deploymentId).to.equal(d.id);
      }
    }
  });

  for (const format of ['xml', 'json'] as const) {
    it(`Deltacloud (${format}): every instance with its state and addresses`, async () => {
      const [, dcConfig] = simBackends(sim);
      const dc = new DeltacloudClient(deltacloudBackendSchema.parse({ ...dcConfig, format }), { logger: silentLogger() });
      const world = sim.handle.world();
      const listed = await dc.listInstances();
      const want = world.instances.filter((i) => i.deltacloudState !== null);
      expect(listed.map((i) => i.id).sort()).to.deep.equal(want.map((i) => i.id).sort());
      for (const inst of listed) {
        const truth = world.instances.find((i) => i.id === inst.id)!;
        expect(inst.state, inst.id).to.equal(expectedState(truth, 'deltacloud'));
        expect(inst.backend.status).to.equal(truth.deltacloudState);
        expect(inst.addresses).to.deep.equal(truth.addresses);
      }
    });
  }
});
