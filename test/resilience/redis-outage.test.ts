/**
 * Production hardening with real processes: a private redis-server with AOF, `heat-gateway
 * start` child processes and the simulator. The bounds asserted here are the issue's
 * promises to operators (1.5 s to a 503 during an outage, one poll interval to recover,
 * server.shutdownGraceMs to exit), measured on the real processes.
 */
import { expect } from 'chai';
import { LocalRedisServer } from '../../src/redis/local-redis-server.js';
import { startSimulator, type Simulator } from '../../src/sim/simulator.js';
import { freePort, testPrefix, waitFor } from '../helpers/redis.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';
import { aofRedis, call, differences, get, logLines, startGatewayChild, TOKENS, type GatewayChild } from './harness.js';

const INTERVAL_MS = 1_000;
const FAST_MS = 300;
/** One poll interval (with jitter), the tick that takes it and a loaded machine's slack. */
const ONE_INTERVAL_MS = INTERVAL_MS * 1.1 + FAST_MS + 1_000;

/** A value for each path parameter that names something real when one exists. */
function fill(path: string, known: { instance: string; deployment: string; webhook: string; event: string }): string {
  return path
    .replace('{backendId}', 'heat-1')
    .replace('{deliveryId}', known.event)
    .replace(/\/v1\/webhooks\/\{id\}/, `/v1/webhooks/${known.webhook}`)
    .replace(/\/v1\/instances\/\{id\}/, `/v1/instances/${encodeURIComponent(known.instance)}`)
    .replace(/\/v1\/deployments\/\{id\}/, `/v1/deployments/${encodeURIComponent(known.deployment)}`);
}

/** A valid body for each route that takes one, so the answer depends on Redis alone. */
function bodyFor(method: string, path: string, receiverUrl: string): unknown {
  if (method === 'post' && path === '/v1/webhooks') return { url: `${receiverUrl}/during-outage` };
  if (method === 'patch') return { description: 'changed during the outage' };
  if (method === 'put' && path === '/admin/strategy') return { name: 'webhook' };
  if (path.endsWith('/replay')) return { since: new Date(Date.now() - 60_000).toISOString() };
  if (path.startsWith('/v1/notifications/')) return { event_type: 'orchestration.stack.update.end', payload: { stack_identity: 'x' } };
  return undefined;
}

/** Routes that never touch Redis (and the liveness probe, which must stay 200). */
const REDIS_FREE = new Set(['get /healthz', 'get /openapi.json', 'get /docs', 'get /metrics', 'get /status/assets/status.css', 'get /status/assets/status.js']);

/**
 * Routes that may keep answering during the outage: a push is accepted as a hint, and the
 * status page (issue 16) may show the outage itself. They must still never fail or hang.
 */
const MAY_ANSWER = new Set(['post /v1/notifications/{backendId}', 'get /', 'get /status', 'get /status/view', 'get /status/snapshot', 'get /status/stream']);

describe('resilience: Redis outages, restarts and shutdown (real processes)', function () {
  this.timeout(120_000);
  let sim: Simulator;
  let redis: LocalRedisServer | undefined;
  let redisPort: number;
  let gateway: GatewayChild | undefined;
  let receiver: Receiver;
  const prefix = testPrefix();

  before(async () => {
    sim = await startSimulator({ clock: 'manual', startTime: new Date().toISOString(), seed: 21, deployments: 4, instancesPerDeployment: 3 });
    receiver = await startReceiver();
    redisPort = await freePort();
  });

  after(async () => {
    await gateway?.cli.stop('SIGKILL');
    await redis?.stop();
    await sim?.close();
    await receiver?.close();
  });

  it('starts before Redis, waits naming redis.url, and becomes ready on its own when Redis comes', async () => {
    const redisUrl = `redis://127.0.0.1:${redisPort}`;
    gateway = await startGatewayChild({ redisUrl, prefix, sim });
    expect(gateway.cli.child.exitCode, gateway.cli.output()).to.equal(null);
    const notReady = await get(gateway.url, '/readyz');
    expect(notReady.status).to.equal(503);
    expect(notReady.json.detail).to.contain(`redis.url ${redisUrl}`);
    // A read while waiting is a 503 with Retry-After, not a 500 or a hang.
    const read = await get(gateway.url, '/v1/instances', TOKENS.client);
    expect(read.status, read.text).to.equal(503);
    expect(read.headers.get('retry-after')).to.match(/^\d+$/);
    await waitFor(() => logLines(gateway!).some((l) => l.message.includes(`waiting for Redis at ${redisUrl}`) && l.message.includes('REDIS_URL')), {
      what: 'a log line naming the Redis URL and how to set it',
    });

    redis = await aofRedis(redisPort);
    await waitFor(async () => (await get(gateway!.url, '/readyz')).status === 200, { timeoutMs: 10_000, what: 'readiness once Redis answers' });
    await waitFor(async () => (await differences(gateway!.url, sim)).length === 0, { timeoutMs: 15_000, what: 'the initial sync' });
  });

  it('answers 503 within 1.5 s on every Redis-backed route while Redis restarts with AOF, then loses nothing', async () => {
    const g = gateway!;
    const hooks: string[] = [];
    for (let i = 0; i < 3; i++) {
      const created = await call(g.url, 'POST', '/v1/webhooks', TOKENS.client, { url: `${receiver.url}/hook-${i}` });
      expect(created.status, created.text).to.equal(201);
      hooks.push(created.json.id as string);
    }
    const startCursor = (await get(g.url, '/v1/events?after=0&limit=1000', TOKENS.client)).json.next as string;
    const world = sim.handle.world();
    sim.handle.applyChange('crash', world.instances[0]!.id, { crashTo: 'SHUTOFF' });
    await waitFor(async () => (await differences(g.url, sim)).length === 0, { timeoutMs: 10_000, what: 'the crash in the cache' });
    const events = (await get(g.url, `/v1/events?after=0&limit=1000`, TOKENS.client)).json.events as { id: string }[];
    const known = { instance: world.instances[1]!.id, deployment: world.deployments[1]!.id, webhook: hooks[0]!, event: events.at(-1)!.id };
    const doc = (await get(g.url, '/openapi.json')).json as { paths: Record<string, Record<string, unknown>> };

    await redis!.stop();
    const answers: { route: string; status: number; ms: number; retryAfter: string | null; type: string | null }[] = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const method of Object.keys(methods)) {
        const route = `${method} ${path}`;
        if (REDIS_FREE.has(route)) continue;
        const answer = await call(g.url, method.toUpperCase(), fill(path, known), TOKENS.admin, bodyFor(method, path, receiver.url));
        answers.push({ route, status: answer.status, ms: Math.round(answer.ms), retryAfter: answer.headers.get('retry-after'), type: answer.headers.get('content-type') });
      }
    }
    // The world moves on while Redis is away.
    sim.handle.applyChange('crash', world.instances[2]!.id, { crashTo: 'ERROR' });
    expect(answers.length).to.be.greaterThan(20);
    for (const a of answers) {
      // Everything else needs Redis and says so.
      if (MAY_ANSWER.has(a.route)) {
        expect([200, 202, 503], JSON.stringify(a)).to.include(a.status);
        expect(a.ms, JSON.stringify(a)).to.be.below(1_500);
        continue;
      }
      expect(a.status, JSON.stringify(a)).to.equal(503);
      expect(a.type, JSON.stringify(a)).to.match(/^application\/problem\+json/);
      expect(a.retryAfter, JSON.stringify(a)).to.match(/^\d+$/);
      expect(a.ms, JSON.stringify(a)).to.be.below(1_500);
    }
    expect(g.cli.output()).to.not.match(/"status":500/);

    await redis!.start();
    const back = performance.now();
    // The connections come back within the reconnect backoff (≤ 500 ms)…
    await waitFor(async () => (await get(g.url, '/readyz')).status === 200, { timeoutMs: 5_000, what: 'readiness after Redis returned' });
    const reconnectedMs = Math.round(performance.now() - back);
    // …and polls resume at once: no target waits for a lease taken before the outage.
    await waitFor(async () => (await differences(g.url, sim)).length === 0, { timeoutMs: ONE_INTERVAL_MS, what: 'the cache to match the simulator within one interval' });
    const recoveredMs = Math.round(performance.now() - back);

    // 0 lost registrations: exactly the endpoints registered before the outage.
    const listing = await get(g.url, '/v1/webhooks', TOKENS.client);
    expect(listing.status, listing.text).to.equal(200);
    const listed = listing.json.items.map((w: { id: string }) => w.id).sort();
    expect(listed).to.deep.equal([...hooks].sort());
    // 0 lost deliveries: every event since the endpoints exist reached each of them.
    const after = (await get(g.url, `/v1/events?after=${startCursor}&limit=1000`, TOKENS.client)).json.events as { id: string }[];
    expect(after.length).to.be.greaterThan(1);
    await waitFor(
      () =>
        hooks.every((_, i) => after.every((e) => receiver.received.some((r) => r.path === `/hook-${i}` && r.headers['webhook-id'] === e.id))),
      { timeoutMs: 15_000, what: 'every event delivered to every endpoint' },
    );
    console.log(`      (503s answered in ≤ ${Math.max(...answers.map((a) => a.ms))} ms over ${answers.length} routes; ready ${reconnectedMs} ms and cache matched ${recoveredMs} ms after Redis returned)`);
  });

  it('exits within server.shutdownGraceMs on SIGTERM while Redis is down', async () => {
    const g = gateway!;
    await redis!.stop();
    try {
      await waitFor(async () => (await get(g.url, '/readyz')).status === 503, { what: 'the outage to show' });
      const started = performance.now();
      const code = await g.cli.stop('SIGTERM');
      const tookMs = Math.round(performance.now() - started);
      gateway = undefined;
      expect(code, g.cli.output().slice(-2_000)).to.equal(0);
      expect(tookMs).to.be.below(2_000); // server.shutdownGraceMs in the harness config
      console.log(`      (exited ${tookMs} ms after SIGTERM; grace 2000 ms)`);
    } finally {
      // The tests after this one need Redis back, whatever happened here.
      await redis!.start();
    }
  });

  it('a restart on another strategy leaves exactly the running strategy\'s schedules, and no log loop', async () => {
    const redisUrl = redis!.url;
    let g = await startGatewayChild({ redisUrl, prefix, sim });
    await waitFor(async () => (await get(g.url, '/readyz')).status === 200, { timeoutMs: 10_000, what: `ready on cached-poll: ${(await get(g.url, '/readyz')).text}\n${g.cli.output().slice(-3_000)}` });
    const before = (await get(g.url, '/admin/status', TOKENS.admin)).json.queues.schedules as { id: string }[];
    expect(before.map((s) => s.id)).to.include('cached-poll_tick');
    expect(await g.cli.stop('SIGTERM')).to.equal(0);

    g = gateway = await startGatewayChild({ redisUrl, prefix, sim, env: { HGW_STRATEGY__NAME: 'deltacloud-poll' } });
    await waitFor(async () => (await get(g.url, '/readyz')).status === 200, { timeoutMs: 10_000, what: 'ready on deltacloud-poll' });
    const status = (await get(g.url, '/admin/status', TOKENS.admin)).json;
    expect(status.strategy.running).to.equal('deltacloud-poll');
    const ids = (status.queues.schedules as { id: string }[]).map((s) => s.id);
    expect(ids.length).to.be.greaterThan(0);
    for (const id of ids) expect(id, JSON.stringify(ids)).to.match(/^deltacloud-poll/);
    // Ticks of the running strategy keep coming; none is dropped for want of a handler.
    const ticks = async () => Number((await get(g.url, '/metrics', TOKENS.admin)).text.match(/hgw_poll_runs_total\{[^}]*strategy="deltacloud-poll"[^}]*outcome="ok"\} (\d+)/)?.[1] ?? 0);
    await waitFor(async () => (await ticks()) >= 3, { timeoutMs: 10_000, what: 'three deltacloud-poll listings' });
    // Jobs the old process had already queued may be dropped: reported once per job name,
    // never in a loop.
    const dropped = logLines(g).filter((l) => /no handler/.test(l.message)).map((l) => String(l.job));
    expect(dropped.length, JSON.stringify(dropped)).to.equal(new Set(dropped).size);
  });

  it('keeps list reads fresh after a deletion (tombstones) and marks reads stale within one poll of a backend outage', async () => {
    const g = gateway!;
    expect(await call(g.url, 'PUT', '/admin/strategy', TOKENS.admin, { name: 'cached-poll' })).to.have.property('status', 200);
    await waitFor(async () => (await differences(g.url, sim)).length === 0, { timeoutMs: 10_000, what: 'cached-poll in sync' });
    const doomed = sim.handle.world().deployments.find((d) => d.stackStatus !== 'DELETE_COMPLETE')!;
    sim.handle.applyChange('delete', doomed.id);
    sim.handle.advance(5_000);
    await waitFor(async () => (await get(g.url, '/v1/deployments?status=DELETE_COMPLETE', TOKENS.client)).json.data.some((d: { id: string }) => d.id === doomed.id), {
      timeoutMs: 10_000,
      what: 'the deletion in the cache',
    });
    // The tombstone is never observed again: wait until it is older than the staleness bound.
    const bound = 2 * INTERVAL_MS + FAST_MS;
    await waitFor(async () => (await get(g.url, `/v1/deployments/${encodeURIComponent(doomed.id)}`, TOKENS.client)).json.meta.ageMs > bound, {
      timeoutMs: 10_000,
      what: 'the tombstone to age past the bound',
    });
    for (const path of ['/v1/deployments', '/v1/instances', '/v1/deployments?include=deleted', '/v1/instances?include=deleted']) {
      const page = await get(g.url, path, TOKENS.client);
      expect(page.json.meta.stale, `${path} ${JSON.stringify(page.json.meta)}`).to.equal(false);
      if (!path.includes('include')) expect(page.json.data.map((d: { id: string; deploymentId?: string }) => d.deploymentId ?? d.id)).to.not.include(doomed.id);
    }

    sim.handle.setFaults({ heat: { outage: { durationMs: 600_000, mode: 'unavailable' } } });
    const failedAt = performance.now();
    const stale = await waitFor(async () => {
      const meta = (await get(g.url, '/v1/instances', TOKENS.client)).json.meta;
      return meta.stale ? meta : undefined;
    }, { timeoutMs: INTERVAL_MS * 1.1 + 1_000, what: 'a stale read within one poll of the backend outage' });
    const staleMs = Math.round(performance.now() - failedAt);
    expect(stale.staleReason).to.match(/last refresh of (backend heat-1|deployment \S+) by cached-poll failed/);
    sim.handle.clearFaults();
    await waitFor(async () => (await get(g.url, '/v1/instances', TOKENS.client)).json.meta.stale === false, {
      timeoutMs: 2 * INTERVAL_MS * 1.1 + 1_000,
      what: 'fresh reads once the backend is back',
    });
    console.log(`      (stale ${staleMs} ms after the backend outage began; poll interval ${INTERVAL_MS} ms)`);
  });

  it('survives a Redis that comes back empty (no persistence): the cache refills, an endpoint registered again gets what follows', async () => {
    // The config's own strategy (cached-poll), which learns the deployments from Heat.
    await gateway!.cli.stop('SIGKILL');
    gateway = await startGatewayChild({ redisUrl: `redis://127.0.0.1:${redisPort}`, prefix, sim });
    const g = gateway;
    await waitFor(async () => (await differences(g.url, sim)).length === 0, { timeoutMs: 15_000, what: 'cached-poll in sync' });
    const before = await call(g.url, 'POST', '/v1/webhooks', TOKENS.client, { url: `${receiver.url}/before-loss` });
    expect(before.status, before.text).to.equal(201);
    const running = () => sim.handle.world().instances.filter((i) => i.novaStatus === 'ACTIVE');
    sim.handle.applyChange('crash', running()[0]!.id, { crashTo: 'SHUTOFF' });
    await waitFor(() => receiver.received.some((r) => r.path === '/before-loss'), { timeoutMs: 10_000, what: 'a delivery before the loss' });

    // Everything lost: the same port, a Redis with no data and no persistence.
    await redis!.stop();
    redis = await LocalRedisServer.start({ port: redisPort });
    await waitFor(async () => (await get(g.url, '/readyz')).status === 200, { timeoutMs: 5_000, what: 'readiness on the empty Redis' });
    await waitFor(async () => (await differences(g.url, sim)).length === 0, { timeoutMs: 2 * ONE_INTERVAL_MS, what: 'the cache filled again within about a poll interval' });
    expect((await get(g.url, '/v1/webhooks', TOKENS.client)).json.items).to.deep.equal([]);

    const again = await call(g.url, 'POST', '/v1/webhooks', TOKENS.client, { url: `${receiver.url}/after-loss` });
    expect(again.status, again.text).to.equal(201);
    const crashed = running()[0]!.id;
    sim.handle.applyChange('crash', crashed, { crashTo: 'ERROR' });
    await waitFor(
      () => receiver.received.some((r) => r.path === '/after-loss' && (JSON.parse(r.body) as { data: { id?: string } }).data.id === crashed),
      { timeoutMs: 10_000, what: 'the change after the loss delivered to the endpoint registered again' },
    );
    expect(g.cli.output()).to.not.match(/"status":500/);
  });
});

