import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { TOKENS } from '../../helpers/gateway.js';
import { waitFor } from '../../helpers/redis.js';
import { api } from '../../helpers/webhook-receiver.js';
import { startWorld, type World } from '../../helpers/world.js';

/** The Aodh fixture, pointed at one of the world's servers, `generated` now. */
function aodhBody(instanceId: string, state: string): unknown {
  const body = JSON.parse(readFileSync('test/fixtures/notifications/aodh-event-alarm.json', 'utf8'));
  body.reason_data.event.generated = new Date(Date.now() + 1_000).toISOString().replace('Z', '000');
  body.reason_data.event.traits = body.reason_data.event.traits.map((t: [string, number, unknown]) =>
    t[0] === 'instance_id' || t[0] === 'resource_id' ? [t[0], t[1], instanceId] : t[0] === 'state' ? [t[0], t[1], state] : t,
  );
  return body;
}

describe('HTTP push ingest trusts what the push says', function () {
  this.timeout(30_000);
  let world: World;

  before(async () => {
    world = await startWorld('webhook');
    const size = world.sim.handle.world().instances.length;
    await waitFor(async () => (await world.gateway.store.counts()).instances >= size, { timeoutMs: 10_000, what: 'the initial resync' });
  });
  after(() => world.close());

  it('an Aodh event alarm with the token in the query is stored before the 202, without asking Heat', async () => {
    const server = world.sim.handle.world().instances[1]!;
    world.sim.handle.resetStats();
    const res = await fetch(`${world.url}/v1/notifications/heat-1?token=${TOKENS.backend}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(aodhBody(server.id, 'stopped')),
    });
    expect(res.status).to.equal(202);
    expect(await res.json()).to.deep.equal({ accepted: true, hints: 1 });
    const stored = await world.gateway.store.getInstance(server.id);
    expect(stored).to.deep.include({ state: 'stopped', source: 'webhook' });
    expect(stored!.backend.status).to.equal('SHUTOFF');
    const stats = world.sim.handle.stats();
    expect(stats.apis.heat?.requests ?? 0).to.equal(0);
  });

  it('refuses an Aodh body without a token, or with a wrong one', async () => {
    const server = world.sim.handle.world().instances[2]!;
    for (const query of ['', '?token=not-the-token-0123456789']) {
      const res = await fetch(`${world.url}/v1/notifications/heat-1${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(aodhBody(server.id, 'stopped')),
      });
      expect(res.status, query).to.equal(401);
      expect(res.headers.get('content-type')).to.match(/problem\+json/);
    }
    expect((await world.gateway.store.getInstance(server.id))!.state).to.equal('running');
  });

  it('a stack notification for a stack it never saw is fetched (the push cannot carry its servers)', async () => {
    const [created] = world.sim.handle.applyChange('launch');
    const stackId = created!.deploymentId;
    const res = await api(world.url, TOKENS.backend, 'POST', '/v1/notifications/heat-1', {
      event_type: 'orchestration.stack.create.end',
      timestamp: new Date().toISOString().replace('T', ' ').replace('Z', ''),
      payload: { stack_identity: stackId, stack_name: 'x', state: 'CREATE_COMPLETE', state_reason: 'done' },
    });
    expect(res.status).to.equal(202);
    await waitFor(async () => (await world.gateway.store.instanceIdsOf(stackId)).length > 0, { timeoutMs: 10_000, what: 'the new stack\'s servers' });
  });
});
