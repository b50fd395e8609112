/** Reads under on-demand through the HTTP API: fresh, stale on a backend failure, 503 when nothing is cached. */
import { expect } from 'chai';
import { Gateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/log/logger.js';
import { defaultModules } from '../../../src/modules.js';
import { startSimulator, type Simulator } from '../../../src/sim/simulator.js';
import { bearer, testConfig, TOKENS } from '../../helpers/gateway.js';
import { FAST_STRATEGY_OPTIONS, simBackends } from '../../helpers/world.js';

describe('on-demand reads through the API', function () {
  this.timeout(30_000);
  let sim: Simulator;
  let gateway: Gateway;
  let url: string;

  before(async () => {
    sim = await startSimulator({ clock: 'manual', startTime: new Date().toISOString(), seed: 5, deployments: 3, instancesPerDeployment: 2 });
    const config = await testConfig({
      backends: simBackends(sim, { timeoutMs: 500 }),
      strategy: { name: 'on-demand', ...FAST_STRATEGY_OPTIONS, onDemand: { readDeadlineMs: 1_000 } },
    });
    gateway = new Gateway({ config, logger: silentLogger(), modules: defaultModules({ strategies: { retryBaseDelayMs: 5 } }) });
    url = await gateway.start();
  });
  after(async () => {
    await gateway.stop();
    await sim.close();
  });

  const get = async (path: string) => {
    const res = await fetch(`${url}${path}`, { headers: bearer(TOKENS.client) });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { data: { id: string; state: string }[] | { id: string; state: string }; meta: { stale: boolean; staleReason?: string; strategy: string } } };
  };

  it('a read asks the backend first and serves what it found', async () => {
    const victim = sim.handle.world().instances[0]!;
    sim.handle.applyChange('crash', victim.id, { crashTo: 'ERROR' });
    const one = await get(`/v1/instances/${victim.id}`);
    expect(one.status).to.equal(200);
    expect(one.body.data).to.include({ id: victim.id, state: 'error' });
    expect(one.body.meta).to.include({ strategy: 'on-demand', stale: false });
  });

  it('serves the cache marked stale when the backend fails, and 503 when nothing is cached', async () => {
    const known = sim.handle.world().instances[1]!;
    await get(`/v1/instances/${known.id}`);
    sim.handle.setFaults({ heat: { outage: { durationMs: 60_000, mode: 'unavailable' } } });
    try {
      const stale = await get(`/v1/instances/${known.id}`);
      expect(stale.status).to.equal(200);
      expect(stale.body.meta.stale).to.equal(true);
      expect(stale.body.meta.staleReason).to.be.a('string');
      const missing = await get('/v1/instances/not-in-the-cache');
      expect(missing.status).to.equal(503);
      expect(missing.retryAfter).to.equal('5');
    } finally {
      sim.handle.clearFaults();
    }
    // Backend back: an unknown id is a plain 404 again.
    expect((await get('/v1/instances/not-in-the-cache')).status).to.equal(404);
  });
});
