import { expect } from 'chai';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { HeatClient } from '../../../src/backends/heat-client.js';
import { parseConfig } from '../../../src/config/load.js';
import { Gateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/log/logger.js';
import { STRATEGIES, STRATEGY_NAMES } from '../../../src/strategy/registry.js';
import { strategyModules } from '../../../src/strategy/strategy-modules.js';
import { StrategyRuntime } from '../../../src/strategy/strategy-runtime.js';
import { bearer, TOKENS } from '../../helpers/gateway.js';
import { waitFor } from '../../helpers/redis.js';
import { PUSH_SECRET, startWorld, type World } from '../../helpers/world.js';

async function putStrategy(url: string, name: string) {
  const res = await fetch(`${url}/admin/strategy`, {
    method: 'PUT',
    headers: { ...bearer(TOKENS.admin), 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Every feed event, parsed. */
async function feedEvents(world: World) {
  const out: { type: string; subject: string; version?: number }[] = [];
  let after = '0';
  for (;;) {
    const page = await world.gateway.feed.read(after, 1_000);
    if (page.entries.length === 0) return out;
    for (const e of page.entries) {
      const doc = JSON.parse(e.json) as { data: { current?: { version?: number } } };
      out.push({ type: e.type, subject: e.subject, ...(doc.data.current?.version ? { version: doc.data.current.version } : {}) });
    }
    after = page.next;
  }
}

/** The first strategy that reads Heat on its own schedule: the switching test starts from it. */
const POLLING = STRATEGIES.find((d) => d.conformance.kind === 'within' && d.reads.includes('heat'))!.name;

describe('strategy runtime', function () {
  this.timeout(60_000);
  let world: World;
  afterEach(() => world?.close());

  it('switches across every strategy in a row under read load: no failed read, no lost event', async () => {
    world = await startWorld(POLLING);
    await waitFor(async () => (await world.gateway.store.counts()).instances === 12, { what: 'initial sync' });
    const ids = world.sim.handle.world().instances.map((i) => i.id);
    let reads = 0;
    const failures: string[] = [];
    let loading = true;
    const load = (async () => {
      while (loading) {
        try {
          const strategy = world.runtime.current();
          const id = ids[reads % ids.length]!;
          await strategy.beforeRead({ kind: 'instance', id });
          if (!(await world.gateway.store.getInstanceJson(id))) failures.push(`${id} missing under ${strategy.name}`);
          const page = await world.gateway.store.listInstancesJson({ limit: 100 });
          if (page.items.length === 0) failures.push(`empty list under ${strategy.name}`);
          reads++;
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    })();

    // Every other strategy, then back to the first.
    const order = [...STRATEGY_NAMES.filter((n) => n !== POLLING), POLLING];
    for (const [n, name] of order.entries()) {
      // A change lands between switches, so each strategy has something to observe.
      world.sim.handle.applyChange('crash', ids[n]!, { crashTo: 'SHUTOFF' });
      const { status, body } = await putStrategy(world.url, name);
      expect(status).to.equal(200);
      expect(body).to.include({ name, running: name, changed: true });
      const readsBefore = reads;
      await waitFor(() => reads > readsBefore + 5, { what: `reads under ${name}` });
      // The old strategy's schedules are gone; only the new one's (if any) remain.
      const schedules = await world.runtime.scheduler.schedules();
      expect(schedules.every((s) => s.id.startsWith(name)), JSON.stringify(schedules)).to.equal(true);
    }
    loading = false;
    await load;
    expect(failures).to.deep.equal([]);
    expect(reads).to.be.greaterThan(20);

    // The last strategy keeps polling: versions first, then the feed, which holds at least as much.
    const stored = new Map<string, number>();
    for (const id of ids) stored.set(id, (await world.gateway.store.getInstance(id))!.version);
    const events = await feedEvents(world);
    expect(events.filter((e) => e.type === 'gateway.strategy_changed')).to.have.length(order.length);
    // No lost or doubled events: each instance's versions run 1, 2, 3… without a gap.
    const versions = new Map<string, number[]>();
    for (const e of events) if (e.type.startsWith('instance.')) versions.set(e.subject, [...(versions.get(e.subject) ?? []), e.version!]);
    for (const [id, vs] of versions) {
      expect(vs, id).to.deep.equal(vs.map((_, i) => i + 1));
      if (stored.has(id)) expect(vs.length, id).to.be.at.least(stored.get(id)!);
    }
  });

  it('a PUT on one replica is running on every replica within 2 s, with one event', async () => {
    world = await startWorld('cached-poll');
    const second = new Gateway({ config: world.config, logger: silentLogger(), modules: [strategyModules({ convergeCheckMs: 500 })] });
    await second.start();
    try {
      const runtime2 = second.modules.find((m): m is StrategyRuntime => m instanceof StrategyRuntime)!;
      expect(runtime2.current().name).to.equal('cached-poll');
      const started = Date.now();
      expect((await putStrategy(world.url, 'deltacloud-poll')).status).to.equal(200);
      await waitFor(() => runtime2.current().name === 'deltacloud-poll', { timeoutMs: 2_000, what: 'the second replica to switch' });
      expect(Date.now() - started).to.be.below(2_000);
      // Asking again changes nothing and appends nothing.
      expect((await putStrategy(world.url, 'deltacloud-poll')).body.changed).to.equal(false);
      expect((await feedEvents(world)).filter((e) => e.type === 'gateway.strategy_changed')).to.have.length(1);
    } finally {
      await second.stop();
    }
  });

  it('a per-backend PUT is running on every replica within 2 s, with one event naming the backend', async () => {
    world = await startWorld(POLLING);
    const second = new Gateway({ config: world.config, logger: silentLogger(), modules: [strategyModules({ convergeCheckMs: 500 })] });
    await second.start();
    try {
      const runtime2 = second.modules.find((m): m is StrategyRuntime => m instanceof StrategyRuntime)!;
      const dcStrategy = STRATEGIES.find((d) => d.reads.includes('deltacloud') && d.name !== runtime2.strategyFor('dc-1').name)!.name;
      const started = Date.now();
      const res = await fetch(`${world.url}/admin/strategy`, {
        method: 'PUT',
        headers: { ...bearer(TOKENS.admin), 'content-type': 'application/json' },
        body: JSON.stringify({ name: dcStrategy, backendId: 'dc-1' }),
      });
      expect(res.status).to.equal(200);
      await waitFor(() => runtime2.strategyFor('dc-1').name === dcStrategy, { timeoutMs: 2_000, what: 'the second replica to switch dc-1' });
      expect(Date.now() - started).to.be.below(2_000);
      // The other backend and the default are untouched on both replicas.
      for (const runtime of [world.runtime, runtime2]) {
        expect(runtime.strategyFor('heat-1').name).to.equal(POLLING);
        expect(runtime.current().name).to.equal(POLLING);
      }
      const changes = (await world.gateway.feed.read('0', 1_000)).entries.filter((e) => e.type === 'gateway.strategy_changed');
      expect(changes.map((e) => (JSON.parse(e.json) as { data: { backendId?: string } }).data.backendId)).to.deep.equal(['dc-1']);
      const status = (await (await fetch(`${world.url}/admin/status`, { headers: bearer(TOKENS.admin) })).json()) as {
        strategy: { backends: { backendId: string; strategy: string; source: string }[] };
      };
      expect(status.strategy.backends.map((b) => [b.backendId, b.strategy, b.source])).to.deep.equal([
        ['heat-1', POLLING, 'default'],
        ['dc-1', dcStrategy, 'admin'],
      ]);
    } finally {
      await second.stop();
    }
  });

  it('an edited backends[].strategy switches that backend only, with one event naming it', async () => {
    world = await startWorld(POLLING);
    const dcStrategy = STRATEGIES.find((d) => d.reads.length === 1 && d.reads[0] === 'deltacloud')!.name;
    const edited = structuredClone(world.config) as unknown as { backends: Record<string, unknown>[] };
    edited.backends = edited.backends.map((b) => (b.id === 'dc-1' ? { ...b, strategy: dcStrategy } : b));
    await world.gateway.applyConfig(parseConfig(edited));
    expect(world.runtime.strategyFor('dc-1').name).to.equal(dcStrategy);
    expect(world.runtime.strategyFor('heat-1').name).to.equal(POLLING);
    const changes = (await world.gateway.feed.read('0', 1_000)).entries.filter((e) => e.type === 'gateway.strategy_changed');
    expect(changes.map((e) => (JSON.parse(e.json) as { data: { backendId?: string; by: string } }).data)).to.deep.include.members([
      { current: { strategy: dcStrategy }, previous: { strategy: POLLING }, by: 'config', backendId: 'dc-1' },
    ]);
    expect(changes).to.have.length(1);
    // Removing it from the config again: the backend follows the default, one more event.
    await world.gateway.applyConfig(world.config);
    expect(world.runtime.strategyFor('dc-1').name).to.equal(POLLING);
    expect((await world.gateway.feed.read('0', 1_000)).entries.filter((e) => e.type === 'gateway.strategy_changed')).to.have.length(2);
  });

  it('an edited config switches the strategy; a restart keeps an admin choice unless the config changed', async () => {
    world = await startWorld('cached-poll');
    await world.gateway.applyConfig(parseConfig({ ...structuredClone(world.config), strategy: { ...world.config.strategy, name: 'webhook' } }));
    expect(world.runtime.current().name).to.equal('webhook');
    expect((await world.runtime.stored()).by).to.equal('"config"');

    // An admin switch survives a restart of a replica whose config did not change…
    await putStrategy(world.url, 'on-demand');
    const webhookConfig = parseConfig({ ...structuredClone(world.config), strategy: { ...world.config.strategy, name: 'webhook' } });
    const restarted = new Gateway({ config: webhookConfig, logger: silentLogger(), modules: [strategyModules()] });
    await restarted.start();
    const runtime2 = restarted.modules.find((m): m is StrategyRuntime => m instanceof StrategyRuntime)!;
    expect(runtime2.current().name).to.equal('on-demand');
    await restarted.stop();
    // …but a config that names another strategy than before wins.
    const edited = parseConfig({ ...structuredClone(world.config), strategy: { ...world.config.strategy, name: 'deltacloud-poll' } });
    const again = new Gateway({ config: edited, logger: silentLogger(), modules: [strategyModules()] });
    await again.start();
    expect(again.modules.find((m): m is StrategyRuntime => m instanceof StrategyRuntime)!.current().name).to.equal('deltacloud-poll');
    await again.stop();
  });

  it('rejects an unknown strategy with the list of valid ones', async () => {
    world = await startWorld('cached-poll');
    const { status, body } = await putStrategy(world.url, 'cached-pol');
    expect(status).to.equal(400);
    expect((body.errors as { path: string; message: string }[])[0]).to.deep.equal({
      path: 'body.name',
      message: `must be one of ${STRATEGY_NAMES.join(', ')}`,
    });
    const forbidden = await fetch(`${world.url}/admin/strategy`, { headers: bearer(TOKENS.client) });
    expect(forbidden.status).to.equal(403);
  });

  describe('push ingest', () => {
    const zaqar = readFileSync('test/fixtures/push/zaqar-heat-event.json', 'utf8');
    const post = (url: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${url}/v1/notifications/heat-1`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

    it('accepts a backend token or a valid signature; refuses everything else', async () => {
      world = await startWorld('cached-poll');
      expect((await post(world.url, zaqar, bearer(TOKENS.backend))).status).to.equal(202);
      const signature = createHmac('sha256', PUSH_SECRET).update(zaqar).digest('hex');
      expect((await post(world.url, zaqar, { 'x-signature': signature })).status).to.equal(202);
      expect((await post(world.url, zaqar, { 'x-signature': signature.replace(/^./, 'f') })).status).to.equal(401);
      expect((await post(world.url, `${zaqar} `, { 'x-signature': signature })).status).to.equal(401);
      expect((await post(world.url, zaqar)).status).to.equal(401);
      expect((await post(world.url, zaqar, bearer(TOKENS.client))).status).to.equal(401);
      const unknown = await fetch(`${world.url}/v1/notifications/heat-9`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(TOKENS.backend) }, body: zaqar });
      expect(unknown.status).to.equal(404);
      const garbage = await post(world.url, '{"hello":"world"}', bearer(TOKENS.backend));
      expect(garbage.status).to.equal(400);
      expect(((await garbage.json()) as { errors: { path: string }[] }).errors[0]!.path).to.equal('body');
    });

    it('a push refreshes what it names; duplicates change nothing', async () => {
      world = await startWorld('webhook');
      await waitFor(async () => (await world.gateway.store.counts()).instances === 12, { what: 'initial sync' });
      // Stop the simulator's own pushes so this test sends them itself.
      world.sim.handle.setFaults({ push: { dropRate: 1 } });
      const victim = world.sim.handle.world().instances[0]!;
      world.sim.handle.applyChange('crash', victim.id, { crashTo: 'ERROR' });
      const push = JSON.stringify({ event_type: 'compute.instance.update', payload: { instance_id: victim.id, state: 'error', metadata: { 'heat-stack-id': victim.deploymentId } } });
      const before = (await feedEvents(world)).length;
      await Promise.all([1, 2, 3].map(() => post(world.url, push, bearer(TOKENS.backend))));
      await waitFor(async () => (await world.gateway.store.getInstance(victim.id))?.state === 'error', { timeoutMs: 1_000, what: 'the crash' });
      const refreshed = async () =>
        (await world.gateway.metrics.observations.get()).values.filter((v) => v.labels.outcome === 'refreshed').reduce((n, v) => n + v.value, 0);
      const refreshedBefore = await refreshed();
      await post(world.url, push, bearer(TOKENS.backend));
      await waitFor(async () => (await refreshed()) > refreshedBefore, { what: 'the duplicate to be refreshed' });
      const added = (await feedEvents(world)).slice(before);
      expect(added.filter((e) => e.subject === victim.id)).to.have.length(1);
    });
  });
});

describe('webhook strategy subscriptions', function () {
  this.timeout(30_000);
  let world: World;
  afterEach(() => world?.close());

  it('subscribes the ingest URL at start and renews it at half its TTL, replacing the old one', async () => {
    world = await startWorld('webhook');
    const subscriptions = async () => {
      const res = await fetch(`${world.sim.zaqarUrl}/queues/heat-events/subscriptions`, {
        headers: { 'X-Auth-Token': (await (world.runtime.backends.clients.get('heat-1') as HeatClient).auth.credentials()).token, 'Client-ID': 'test' },
      });
      return ((await res.json()) as { subscriptions: { id: string; subscriber: string; ttl: number }[] }).subscriptions;
    };
    await waitFor(async () => (await subscriptions()).length === 1, { what: 'the first subscription' });
    const [first] = await subscriptions();
    expect(first!.subscriber).to.equal(`${world.url}/v1/notifications/heat-1`);
    expect(first!.ttl).to.equal(3_600);
    const due = await world.runtime.scheduler.dueTimes('webhook');
    expect(due.get('subscribe:heat-1')! - Date.now()).to.be.within(1_700_000, 1_800_000);

    // The renewal (driven directly, as its schedule would) replaces the subscription.
    await world.runtime.scheduler.runNow('webhook.subscribe', { backend: 'heat-1' });
    const renewed = await subscriptions();
    expect(renewed).to.have.length(1);
    expect(renewed[0]!.id).to.not.equal(first!.id);
  });
});
