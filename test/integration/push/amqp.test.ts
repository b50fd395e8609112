import { expect } from 'chai';
import type { Instance } from '../../../src/model/types.js';
import { toEntry } from '../../../src/store/change-feed.js';
import type { Gateway } from '../../../src/gateway.js';
import { TOKENS } from '../../helpers/gateway.js';
import { instanceUpdate, publishNotifications, useRabbitMQ } from '../../helpers/rabbitmq.js';
import { testRedis, waitFor } from '../../helpers/redis.js';
import { api, startReceiver, verify, type Receiver } from '../../helpers/webhook-receiver.js';
import { startPushWorld, type PushWorld } from './push-world.js';

/** Every instance event in the feed: subject, version, state, backend time. */
async function instanceEvents(gateway: Gateway): Promise<{ id: string; version: number; state: string; updatedAt: string | null }[]> {
  const entries = await testRedis(gateway.config.redis.url).xrange(gateway.feed.keys.feed, '-', '+');
  return entries
    .map(([id, fields]) => toEntry(id, fields))
    .filter((e) => e.type.startsWith('instance.'))
    .map((e) => (JSON.parse(e.json) as { data: { current: Instance } }).data.current)
    .map((c) => ({ id: c.id, version: c.version, state: c.state, updatedAt: c.updatedAt }));
}

/** `count` alternating active/stopped updates spread over `servers`, each newer than the last. */
function alternatingUpdates(servers: string[], count: number, startMs: number) {
  return Array.from({ length: count }, (_, k) => {
    const server = servers[k % servers.length]!;
    const round = Math.floor(k / servers.length);
    return instanceUpdate(server, round % 2 === 0 ? 'stopped' : 'active', null, startMs + k);
  });
}

describe('push over AMQP (real RabbitMQ)', function () {
  this.timeout(120_000);
  const rabbit = useRabbitMQ();
  let world: PushWorld | undefined;
  let receiver: Receiver | undefined;

  afterEach(async () => {
    await world?.close();
    await receiver?.close();
    world = undefined;
    receiver = undefined;
  });

  it('a published instance.update reaches GET /v1/instances/:id and a signed webhook delivery, without asking Heat', async () => {
    world = await startPushWorld(rabbit.url, rabbit.queue);
    const { url } = world.gateways[0]!;
    receiver = await startReceiver();
    const hook = await api(url, TOKENS.client, 'POST', '/v1/webhooks', { url: receiver.url, events: ['instance.state_changed'] });
    expect(hook.status).to.equal(201);
    const server = world.sim.handle.world().instances[0]!;
    world.sim.handle.resetStats();

    world.sim.handle.applyChange('crash', server.id, { crashTo: 'SHUTOFF' });
    await world.sim.handle.notificationsIdle();

    const read = await waitFor(async () => {
      const res = await api(url, TOKENS.client, 'GET', `/v1/instances/${server.id}`);
      return res.json.data?.state === 'stopped' ? res.json.data : undefined;
    }, { timeoutMs: 10_000, what: 'the instance to read stopped' });
    expect(read).to.deep.include({ id: server.id, state: 'stopped', source: 'webhook', deploymentId: server.deploymentId });
    expect(read.backend).to.deep.equal({ id: 'heat-1', kind: 'heat', status: 'SHUTOFF' });

    const delivery = await waitFor(() => receiver!.received.find((r) => JSON.parse(r.body).data?.current?.id === server.id), { timeoutMs: 10_000, what: 'the webhook delivery' });
    const verified = verify(hook.json.secret, delivery!);
    expect(verified.type).to.equal('instance.state_changed');
    expect(verified.data.current).to.deep.include({ id: server.id, state: 'stopped' });
    expect(verified.data.previous).to.deep.include({ state: 'running' });
    // The notification said it all: not one Heat or Keystone request for this change.
    const stats = world.sim.handle.stats();
    expect((stats.apis.heat?.requests ?? 0) + (stats.apis.keystone?.requests ?? 0)).to.equal(0);

    const status = await api(url, TOKENS.admin, 'GET', '/admin/status');
    expect(status.json.push.amqp[0]).to.deep.include({ backendId: 'heat-1', queue: rabbit.queue, state: 'consuming', url: 'amqp://guest:[redacted]@127.0.0.1:' + rabbit.server.port + '/' });
    const ready = await fetch(`${url}/readyz`);
    const checks = ((await ready.json()) as { checks: Record<string, { ok: boolean; detail?: Record<string, unknown> }> }).checks;
    expect(checks['amqp:heat-1']).to.deep.include({ ok: true });
    expect(checks['amqp:heat-1']!.detail).to.deep.include({ state: 'consuming', queueDepth: 0 });
  });

  it('two replicas on one queue: every notification is applied once, 0 duplicate feed events', async () => {
    world = await startPushWorld(rabbit.url, rabbit.queue, { replicas: 2 });
    const [a, b] = world.gateways;
    const servers = world.sim.handle.world().instances.map((i) => i.id);
    const startMs = Date.now() + 1_000;
    const before = (await instanceEvents(a!.gateway)).length;
    const updates = alternatingUpdates(servers, 1_000, startMs);
    await publishNotifications(rabbit.url, updates);

    // Each server ends at its newest notification, whichever replica applied it.
    const expected = new Map<string, { state: string; updatedAt: string }>();
    updates.forEach((_, k) => {
      const round = Math.floor(k / servers.length);
      expected.set(servers[k % servers.length]!, { state: round % 2 === 0 ? 'stopped' : 'running', updatedAt: new Date(startMs + k).toISOString() });
    });
    await waitFor(async () => {
      const docs = await a!.gateway.store.getInstances(servers);
      const status = (await api(a!.url, TOKENS.admin, 'GET', '/admin/status')).json.push.amqp[0];
      return status.queueDepth === 0 && docs.every((d) => d && d.state === expected.get(d.id)!.state && d.updatedAt === expected.get(d.id)!.updatedAt);
    }, { timeoutMs: 30_000, what: 'every notification to be applied' });

    const events = (await instanceEvents(a!.gateway)).slice(before);
    const keys = events.map((e) => `${e.id}@${e.version}`);
    expect(new Set(keys).size, 'events with the same instance version').to.equal(keys.length);
    const changes = events.map((e) => `${e.id}@${e.updatedAt}`);
    expect(new Set(changes).size, 'events for the same notification').to.equal(changes.length);
    // Both replicas took part.
    const acked = await Promise.all([a!, b!].map(async (g) => (await api(g.url, TOKENS.admin, 'GET', '/admin/status')).json.push.amqp[0].acknowledged as number));
    expect(acked[0]! + acked[1]!).to.be.at.least(1_000);
    expect(Math.min(...acked)).to.be.greaterThan(0);
  });

  it('RabbitMQ restarted: the consumer reconnects and nothing is lost', async () => {
    world = await startPushWorld(rabbit.url, rabbit.queue);
    const { gateway, url } = world.gateways[0]!;
    const servers = world.sim.handle.world().instances.map((i) => i.id);
    const startMs = Date.now() + 1_000;
    const before = (await instanceEvents(gateway)).length;
    await publishNotifications(rabbit.url, alternatingUpdates(servers, 240, startMs));

    await rabbit.server.stopNode();
    const down = await waitFor(async () => {
      const res = await fetch(`${url}/readyz`);
      return res.status === 503 ? ((await res.json()) as { checks: Record<string, { ok: boolean; error?: string }> }).checks['amqp:heat-1'] : undefined;
    }, { timeoutMs: 20_000, what: '/readyz to report the consumer down' });
    expect(down).to.deep.include({ ok: false });
    expect(down!.error).to.match(/^consumer reconnecting/);

    await rabbit.server.start();
    await waitFor(async () => (await api(url, TOKENS.admin, 'GET', '/admin/status')).json.push.amqp[0].state === 'consuming', { timeoutMs: 30_000, what: 'the consumer to reconnect' });
    // Published after the restart, to the exchange the consumer declared and bound again.
    await publishNotifications(rabbit.url, alternatingUpdates(servers, 240, startMs + 240));

    await waitFor(async () => (await instanceEvents(gateway)).length - before >= 480, { timeoutMs: 30_000, what: 'all 480 notifications' });
    const events = (await instanceEvents(gateway)).slice(before);
    expect(events).to.have.length(480);
    expect(new Set(events.map((e) => e.updatedAt)).size).to.equal(480);
  });
});
