import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { OBSERVE_LUA } from '../../../src/store/lua/observe.js';
import { OBSERVE_BATCH } from '../../../src/store/state-store.js';
import { TOKENS } from '../../helpers/gateway.js';
import { monitorRedis, testRedis, waitFor } from '../../helpers/redis.js';
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

/** The legacy `compute.instance.update` fixture about `instanceId`, now in `vmState`, sent at `atMs`. */
function novaUpdate(instanceId: string, vmState: string, atMs: number): unknown {
  const body = JSON.parse(readFileSync('test/fixtures/push/compute-instance-update.json', 'utf8'));
  // oslo's timestamp: str(datetime.utcnow()), naive UTC with microseconds.
  body.timestamp = `${new Date(atMs).toISOString().replace('T', ' ').replace('Z', '')}000`;
  body.payload = { ...body.payload, instance_id: instanceId, state: vmState, old_state: null, metadata: {} };
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

  /** The commands sent to Redis from outside a script while `run` runs, each as its arguments. */
  async function commandsWhile(run: () => Promise<void>): Promise<string[][]> {
    const commands: string[][] = [];
    const monitor = await monitorRedis(world.config.redis.url, ({ args, source }) => {
      if (source !== 'lua') commands.push(args);
    });
    try {
      await run();
      // A marker tells when MONITOR has delivered everything before it.
      const marker = `${world.config.redis.keyPrefix}marker-${Date.now()}`;
      let seen = false;
      const watch = await monitorRedis(world.config.redis.url, ({ args }) => (seen ||= args[1] === marker));
      await testRedis(world.config.redis.url).get(marker);
      await waitFor(() => seen, { what: 'the marker in MONITOR' });
      watch.stop();
    } finally {
      monitor.stop();
    }
    return commands;
  }

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

  it('stores each notification of a list at its own time; an older one after a newer one is absorbed', async () => {
    const [a, b] = world.sim.handle.world().instances;
    const before = await world.gateway.store.getInstances([a!.id, b!.id]);
    const base = Date.now() + 60_000;
    const res = await api(world.url, TOKENS.backend, 'POST', '/v1/notifications/heat-1', [
      novaUpdate(a!.id, 'stopped', base + 2_000),
      novaUpdate(a!.id, 'active', base + 1_000),
      novaUpdate(b!.id, 'stopped', base + 3_000),
    ]);
    expect(res.status).to.equal(202);
    const [storedA, storedB] = await world.gateway.store.getInstances([a!.id, b!.id]);
    expect(storedA).to.include({ state: 'stopped', observedAt: new Date(base + 2_000).toISOString(), updatedAt: new Date(base + 2_000).toISOString() });
    expect(storedB).to.include({ state: 'stopped', observedAt: new Date(base + 3_000).toISOString() });
    // One change each (one version, one event): the older notification of a changed nothing.
    expect(storedA!.version).to.equal(before[0]!.version + 1);
    expect(storedB!.version).to.equal(before[1]!.version + 1);
  });

  it('patches the cached record in one round trip: no read before the script, and a deleted server keeps its addresses', async () => {
    const [, , c] = world.sim.handle.world().instances;
    const before = (await world.gateway.store.getInstance(c!.id))!;
    const commands = await commandsWhile(async () => {
      const res = await api(world.url, TOKENS.backend, 'POST', '/v1/notifications/heat-1', [novaUpdate(c!.id, 'deleted', Date.now() + 90_000)]);
      expect(res.status).to.equal(202);
    });
    const reads = commands.filter((args) => args[1]?.startsWith(`${world.config.redis.keyPrefix}i:`)).map((args) => args[0]!.toLowerCase());
    expect(reads, 'commands on instance records outside the observe script').to.deep.equal([]);
    const after = await world.gateway.store.getInstance(c!.id);
    expect(after).to.deep.include({ state: 'vanished', deploymentId: before.deploymentId, name: before.name, addresses: before.addresses });
  });

  it(`sends a list's instance updates in script calls of ${OBSERVE_BATCH}, each update applied in order`, async () => {
    const servers = world.sim.handle.world().instances.map((i) => i.id);
    const before = await world.gateway.store.getInstances(servers);
    const base = Date.now() + 120_000;
    // 250 updates: every server flips state at each of its sightings, so every one is a change.
    const first = before.map((doc) => (doc!.state === 'stopped' ? 'running' : 'stopped'));
    const flipped = (k: number, sighting: number) => (sighting % 2 === 0 ? first[k]! : first[k] === 'stopped' ? 'running' : 'stopped');
    const vmState = (state: string) => (state === 'stopped' ? 'stopped' : 'active');
    const body = Array.from({ length: 250 }, (_, n) => novaUpdate(servers[n % servers.length]!, vmState(flipped(n % servers.length, Math.floor(n / servers.length))), base + n));
    const observeSha = createHash('sha1').update(OBSERVE_LUA).digest('hex');
    const commands = await commandsWhile(async () => {
      expect((await api(world.url, TOKENS.backend, 'POST', '/v1/notifications/heat-1', body)).status).to.equal(202);
    });
    const calls = commands.filter((args) => args[0]?.toLowerCase() === 'evalsha' && args[1] === observeSha);
    expect(calls).to.have.length(Math.ceil(250 / OBSERVE_BATCH));
    const after = await world.gateway.store.getInstances(servers);
    servers.forEach((id, k) => {
      const sightings = Math.floor((250 - 1 - k) / servers.length) + 1;
      const last = k + (sightings - 1) * servers.length;
      expect(after[k], id).to.include({ state: flipped(k, sightings - 1), version: before[k]!.version + sightings, observedAt: new Date(base + last).toISOString() });
    });
  });
});
