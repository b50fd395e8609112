import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { startSimulator, type Simulator } from '../../../src/sim/simulator.js';
import { startReceiver, subscribe, token } from './sim-test-helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('sim push (Zaqar subscriptions)', () => {
  let sim: Simulator;
  let tok: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeEach(async () => {
    sim = await startSimulator({ clock: 'manual', seed: 4, deployments: 2, instancesPerDeployment: 2, push: { secret: 'sim-secret' } });
    tok = await token(sim);
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await sim.close();
    await receiver.close();
  });

  it('Zaqar subscription API: create, list, show, delete, and its errors', async () => {
    const created = await subscribe(sim, tok, 'events', { subscriber: receiver.url, ttl: 600, options: { envelope: 'oslo' } });
    expect(created.status).to.equal(201);
    const { subscription_id: id } = (await created.json()) as Json;
    const headers = { 'X-Auth-Token': tok, 'Client-ID': 'c1' };
    const list = (await (await fetch(`${sim.zaqarUrl}/queues/events/subscriptions`, { headers })).json()) as Json;
    expect(list.subscriptions).to.have.length(1);
    expect(list.subscriptions[0]).to.include({ id, subscriber: receiver.url, source: 'events', ttl: 600 });
    expect((await subscribe(sim, tok, 'events', { subscriber: receiver.url })).status).to.equal(409);
    expect((await subscribe(sim, tok, 'events', { subscriber: 'ftp://x' })).status).to.equal(400);
    const noClient = await fetch(`${sim.zaqarUrl}/queues/events/subscriptions`, { headers: { 'X-Auth-Token': tok } });
    expect(noClient.status).to.equal(400);
    expect(await noClient.json()).to.have.all.keys('title', 'description');
    expect((await fetch(`${sim.zaqarUrl}/queues/events/subscriptions`, { headers: { 'Client-ID': 'c1' } })).status).to.equal(401);
    expect((await fetch(`${sim.zaqarUrl}/queues/events/subscriptions/${id as string}`, { method: 'DELETE', headers })).status).to.equal(204);
    expect((await fetch(`${sim.zaqarUrl}/queues/events/subscriptions/${id as string}`, { headers })).status).to.equal(404);
  });

  it('delivers Heat event-sink messages for stack/resource changes and compute.instance.update for Nova changes', async () => {
    expect((await subscribe(sim, tok, 'events', { subscriber: receiver.url, ttl: 600 })).status).to.equal(201);
    const launched = sim.handle.applyChange('launch');
    const stackId = launched[0]!.deploymentId;
    sim.handle.advance(5_000);
    await sim.handle.pushIdle();

    const heatMsgs = receiver.received.filter((r) => (r.body.body as Json | undefined)?.type === 'os.heat.event') as { body: Json }[];
    const novaMsgs = receiver.received.filter((r) => r.body.event_type === 'compute.instance.update');
    expect(heatMsgs.length + novaMsgs.length).to.equal(receiver.received.length);
    // stack IN_PROGRESS, 2 servers IN_PROGRESS, 2 servers COMPLETE, stack COMPLETE
    expect(heatMsgs).to.have.length(6);
    // Deliveries run concurrently, so arrival order is not asserted.
    const first = heatMsgs.find((m) => m.body.body.payload.resource_type === 'OS::Heat::Stack' && m.body.body.payload.resource_status === 'IN_PROGRESS')!.body;
    expect(first).to.include({ queue_name: 'events' });
    expect(first.body).to.include({ type: 'os.heat.event', version: '0.1' });
    expect(first.body.payload).to.include({ stack_id: stackId, resource_action: 'CREATE', resource_status: 'IN_PROGRESS', resource_type: 'OS::Heat::Stack' });
    expect(heatMsgs.some((m) => m.body.body.payload.resource_status === 'COMPLETE' && m.body.body.payload.physical_resource_id === stackId)).to.equal(true);
    // BUILD then ACTIVE for both servers.
    expect(novaMsgs.map((m) => `${String((m.body.payload as Json).old_state)}→${String((m.body.payload as Json).state)}`).sort()).to.deep.equal([
      'building→active',
      'building→active',
      'null→building',
      'null→building',
    ]);
    expect(novaMsgs[0]!.body).to.include({ priority: 'INFO', publisher_id: 'compute.compute-1' });

    // Signature: lowercase hex HMAC-SHA256 of the raw body with the push secret.
    for (const r of receiver.received) {
      expect(r.headers['x-signature']).to.equal(createHmac('sha256', 'sim-secret').update(r.raw).digest('hex'));
    }

    // A crash is Nova-only: one notification, no Heat event.
    receiver.received.length = 0;
    const victim = sim.handle.world().instances.find((i) => i.deploymentId === stackId)!;
    sim.handle.applyChange('crash', victim.id, { crashTo: 'SHUTOFF' });
    await sim.handle.pushIdle();
    expect(receiver.received).to.have.length(1);
    expect(receiver.received[0]!.body.payload).to.include({ instance_id: victim.id, state: 'stopped', old_state: 'active' });
  });

  it('wraps Nova notifications in the oslo.message envelope when asked', async () => {
    await subscribe(sim, tok, 'nova', { subscriber: receiver.url, options: { envelope: 'oslo', event_types: ['compute.instance.update'] } });
    const target = sim.handle.world().instances[0]!;
    sim.handle.applyChange('reboot', target.id);
    await sim.handle.pushIdle();
    expect(receiver.received).to.have.length(1);
    const env = receiver.received[0]!.body;
    expect(env['oslo.version']).to.equal('2.0');
    const inner = JSON.parse(env['oslo.message'] as string) as Json;
    expect(inner).to.include({ event_type: 'compute.instance.update' });
    expect(inner.payload).to.include({ instance_id: target.id, state: 'active', new_task_state: 'rebooting' });
  });

  it('stops delivering once the subscription TTL has passed (virtual time)', async () => {
    await subscribe(sim, tok, 'short', { subscriber: receiver.url, ttl: 60, options: { event_types: ['compute.instance.update'] } });
    const [a, b] = sim.handle.world().instances;
    sim.handle.applyChange('crash', a!.id);
    await sim.handle.pushIdle();
    expect(receiver.received).to.have.length(1);
    sim.handle.advance(60_000);
    sim.handle.applyChange('crash', b!.id);
    await sim.handle.pushIdle();
    expect(receiver.received).to.have.length(1);
    const list = (await (await fetch(`${sim.zaqarUrl}/queues/short/subscriptions`, { headers: { 'X-Auth-Token': await token(sim), 'Client-ID': 'c' } })).json()) as Json;
    expect(list.subscriptions).to.have.length(0);
  });
});
