import { expect } from 'chai';
import type { Gateway } from '../../../src/gateway.js';
import { INSTANCE_STATES } from '../../../src/model/states.js';
import { bearer, TOKENS } from '../../helpers/gateway.js';
import { deploymentObs, instanceObs } from '../../helpers/observations.js';
import { monitorRedis, testRedis, waitFor } from '../../helpers/redis.js';
import { FakeStrategy, send, startApiGateway, type RawResponse } from './api-test-helpers.js';

const client = bearer(TOKENS.client);

function expectProblem(res: RawResponse, status: number) {
  expect(res.status, res.text).to.equal(status);
  expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
  expect(res.json.status).to.equal(status);
}

describe('Conductor API: reads', () => {
  let gateway: Gateway;
  let url: string;
  let strategy: FakeStrategy;
  let clock: number;
  const ctx = { source: 'cached-poll' };

  beforeEach(async () => {
    clock = Date.UTC(2026, 10, 25, 12, 0, 0);
    ({ gateway, url, strategy } = await startApiGateway({ now: () => clock }));
  });
  afterEach(() => gateway.stop());

  describe('GET /v1/instances/:id', () => {
    it('serves the stored document with meta and a weak ETag', async () => {
      await gateway.store.observeInstance(instanceObs(), { ...ctx, observedAtMs: clock - 1_500 });
      const res = await send(url, 'GET', '/v1/instances/srv-1', client);
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.match(/^application\/json/);
      expect(res.headers.etag).to.match(/^W\/"/);
      expect(res.json.data).to.deep.equal(await gateway.store.getInstance('srv-1'));
      expect(res.json.meta).to.deep.equal({
        strategy: 'cached-poll',
        observedAt: new Date(clock - 1_500).toISOString(),
        ageMs: 1_500,
        stale: false,
      });
      expect(strategy.targets).to.deep.equal([{ kind: 'instance', id: 'srv-1' }]);
    });

    it('is 404 problem for an unknown id (after asking the strategy)', async () => {
      const res = await send(url, 'GET', '/v1/instances/nope', client);
      expectProblem(res, 404);
      expect(res.json.detail).to.contain("'nope'");
      expect(strategy.targets).to.deep.equal([{ kind: 'instance', id: 'nope' }]);
    });

    it('answers 304 on If-None-Match; the ETag survives an observedAt refresh and changes with the version', async () => {
      await gateway.store.observeInstance(instanceObs(), ctx);
      const first = await send(url, 'GET', '/v1/instances/srv-1', client);
      const etag = String(first.headers.etag);
      const notModified = await send(url, 'GET', '/v1/instances/srv-1', { ...client, 'if-none-match': etag });
      expect(notModified.status).to.equal(304);
      expect(notModified.text).to.equal('');
      expect(notModified.headers.etag).to.equal(etag);
      // A list of tags, and the strong form of the same tag, also match (weak comparison).
      expect((await send(url, 'GET', '/v1/instances/srv-1', { ...client, 'if-none-match': `"x", ${etag.slice(2)}` })).status).to.equal(304);

      clock += 60_000;
      await gateway.store.observeInstance(instanceObs(), ctx); // identical: refreshes observedAt only
      const refreshed = await send(url, 'GET', '/v1/instances/srv-1', client);
      expect(refreshed.json.data.observedAt).to.equal(new Date(clock).toISOString());
      expect(refreshed.headers.etag).to.equal(etag);
      expect((await send(url, 'GET', '/v1/instances/srv-1', { ...client, 'if-none-match': etag })).status).to.equal(304);

      await gateway.store.observeInstance(instanceObs({ state: 'stopped', backend: { id: 'heat-1', kind: 'heat', status: 'SHUTOFF' } }), ctx);
      const changed = await send(url, 'GET', '/v1/instances/srv-1', { ...client, 'if-none-match': etag });
      expect(changed.status).to.equal(200);
      expect(changed.headers.etag).to.not.equal(etag);
      expect(changed.json.data.state).to.equal('stopped');
    });

    it('marks stale when beforeRead failed (with its reason) or the age exceeds staleAfterMs', async () => {
      await gateway.store.observeInstance(instanceObs(), { ...ctx, observedAtMs: clock - 10_000 });
      strategy.answer = { failed: true, reason: 'heat-1 timed out' };
      let res = await send(url, 'GET', '/v1/instances/srv-1', client);
      expect(res.json.meta).to.include({ stale: true, staleReason: 'heat-1 timed out' });

      strategy.answer = { failed: false };
      strategy.staleMs = 5_000;
      res = await send(url, 'GET', '/v1/instances/srv-1', client);
      expect(res.json.meta.stale).to.equal(true);
      expect(res.json.meta.staleReason).to.match(/5000 ms/);

      strategy.staleMs = 20_000;
      res = await send(url, 'GET', '/v1/instances/srv-1', client);
      expect(res.json.meta).to.deep.include({ stale: false, ageMs: 10_000 });
      expect(res.json.meta).to.not.have.property('staleReason');
    });

    it('serves the cache marked stale when beforeRead throws', async () => {
      await gateway.store.observeInstance(instanceObs(), ctx);
      strategy.throwOnRead = new Error('boom');
      const res = await send(url, 'GET', '/v1/instances/srv-1', client);
      expect(res.status).to.equal(200);
      expect(res.json.meta.stale).to.equal(true);
      expect(res.json.meta.staleReason).to.contain('boom');
    });

    it('costs at most one Redis command (one script: record + its scopes\' refresh failures) per cached read, none for an instance held in memory', async () => {
      await gateway.store.observeInstance(instanceObs(), ctx);
      const memory = gateway.stores.readCache!;
      await waitFor(() => memory.stats().tracking, { what: 'read tracking on' });
      await send(url, 'GET', '/v1/instances/srv-1', client); // loads the script once (EVAL), kept in memory
      const commands: string[][] = [];
      const prefix = gateway.config.redis.keyPrefix;
      const monitor = await monitorRedis(gateway.config.redis.url, ({ args, source }) => {
        // Commands a script runs inside Redis show with source 'lua': part of the one round trip.
        if (source !== 'lua' && args.some((a) => a.startsWith(prefix))) commands.push(args);
      });
      // A marker command tells us when MONITOR has delivered everything up to it.
      const readCommands = async (marker: string) => {
        await testRedis(gateway.config.redis.url).get(`${prefix}${marker}`);
        await waitFor(() => commands.some((c) => c[1] === `${prefix}${marker}`), { what: 'the marker in MONITOR' });
        const read = commands.filter((c) => !c[1]!.startsWith(`${prefix}marker`));
        commands.length = 0;
        return read;
      };
      try {
        expect((await send(url, 'GET', '/v1/instances/srv-1', client)).status).to.equal(200);
        expect(await readCommands('marker-1'), 'held in memory').to.deep.equal([]);
        // Another writer changes it: Redis announces the key, the next read goes to Redis.
        const invalidations = memory.stats().invalidations;
        await testRedis(gateway.config.redis.url).hset(`${prefix}i:srv-1`, 'm', '0');
        await waitFor(() => memory.stats().invalidations > invalidations, { what: 'the invalidation' });
        commands.length = 0;
        expect((await send(url, 'GET', '/v1/instances/srv-1', client)).status).to.equal(200);
        const read = await readCommands('marker-2');
        expect(read.map((c) => c[0]!.toLowerCase())).to.deep.equal(['evalsha']);
        expect(read[0]!.slice(2)).to.deep.equal(['1', `${prefix}i:srv-1`, prefix]);
      } finally {
        monitor.stop();
      }
    });

    it('sets the cache age gauge', async () => {
      await gateway.store.observeInstance(instanceObs(), { ...ctx, observedAtMs: clock - 3_000 });
      await send(url, 'GET', '/v1/instances/srv-1', client);
      const gauge = await gateway.metrics.cacheAge.get();
      expect(gauge.values.find((v) => v.labels.kind === 'instance')?.value).to.equal(3);
    });

    it('needs a client (or admin) token', async () => {
      await gateway.store.observeInstance(instanceObs(), ctx);
      expectProblem(await send(url, 'GET', '/v1/instances/srv-1'), 401);
      expectProblem(await send(url, 'GET', '/v1/instances/srv-1', bearer(TOKENS.backend)), 403);
      expect((await send(url, 'GET', '/v1/instances/srv-1', bearer(TOKENS.admin))).status).to.equal(200);
    });
  });

  describe('GET /v1/instances', () => {
    it('pages through 2,500 instances: every id exactly once, in id order', async () => {
      const all = Array.from({ length: 2_500 }, (_, n) =>
        instanceObs({ id: `srv-${String(n).padStart(4, '0')}`, deploymentId: `stack-${n % 7}` }),
      );
      for (let i = 0; i < all.length; i += 500) await gateway.store.observeInstances(all.slice(i, i + 500), ctx);
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await send(url, 'GET', `/v1/instances?limit=300${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, client);
        expect(res.status, res.text).to.equal(200);
        seen.push(...res.json.data.map((i: { id: string }) => i.id));
        cursor = res.json.next;
        pages += 1;
      } while (cursor !== null);
      expect(pages).to.equal(9);
      expect(seen).to.deep.equal(all.map((o) => o.id).sort());
      expect(new Set(seen).size).to.equal(2_500);
    });

    it('defaults to 100 per page and accepts 1..1000', async () => {
      await gateway.store.observeInstances(Array.from({ length: 120 }, (_, n) => instanceObs({ id: `srv-${String(n).padStart(3, '0')}` })), ctx);
      const res = await send(url, 'GET', '/v1/instances', client);
      expect(res.json.data).to.have.length(100);
      expect(res.json.next).to.equal('srv-099');
      expect((await send(url, 'GET', '/v1/instances?limit=1000', client)).json.data).to.have.length(120);
      for (const bad of ['0', '1001', 'x', '1.5', '-1']) {
        const r = await send(url, 'GET', `/v1/instances?limit=${bad}`, client);
        expectProblem(r, 400);
        expect(r.json.errors[0].path).to.equal('query.limit');
      }
    });

    it('filters by state and by deploymentId, and both', async () => {
      await gateway.store.observeInstances(
        [
          instanceObs({ id: 'a', deploymentId: 'd1', state: 'running' }),
          instanceObs({ id: 'b', deploymentId: 'd1', state: 'error', backend: { id: 'heat-1', kind: 'heat', status: 'ERROR' } }),
          instanceObs({ id: 'c', deploymentId: 'd2', state: 'error', backend: { id: 'heat-1', kind: 'heat', status: 'ERROR' } }),
          instanceObs({ id: 'd', deploymentId: 'd2', state: 'pending', backend: { id: 'heat-1', kind: 'heat', status: 'BUILD' } }),
        ],
        ctx,
      );
      const ids = async (q: string) => (await send(url, 'GET', `/v1/instances?${q}`, client)).json.data.map((i: { id: string }) => i.id);
      expect(await ids('state=error')).to.deep.equal(['b', 'c']);
      expect(await ids('deploymentId=d2')).to.deep.equal(['c', 'd']);
      expect(await ids('deploymentId=d2&state=error')).to.deep.equal(['c']);
      expect(await ids('state=stopped')).to.deep.equal([]);
      const bad = await send(url, 'GET', '/v1/instances?state=ACTIVE', client);
      expectProblem(bad, 400);
      expect(bad.json.errors[0].path).to.equal('query.state');
      expect(bad.json.errors[0].message).to.contain(INSTANCE_STATES.join(', '));
      expect(strategy.targets).to.deep.include({ kind: 'instances', deploymentId: 'd2' });
      expect(strategy.targets).to.deep.include({ kind: 'instances' });
    });

    it('meta.observedAt is the oldest of the page; the ETag ignores observedAt refreshes but not changes', async () => {
      await gateway.store.observeInstance(instanceObs({ id: 'a' }), { ...ctx, observedAtMs: clock - 9_000 });
      await gateway.store.observeInstance(instanceObs({ id: 'b' }), { ...ctx, observedAtMs: clock - 2_000 });
      const first = await send(url, 'GET', '/v1/instances', client);
      expect(first.json.meta).to.deep.include({ observedAt: new Date(clock - 9_000).toISOString(), ageMs: 9_000 });
      expect(first.json.next).to.equal(null);
      const etag = String(first.headers.etag);
      expect((await send(url, 'GET', '/v1/instances', { ...client, 'if-none-match': etag })).status).to.equal(304);
      await gateway.store.observeInstance(instanceObs({ id: 'a' }), ctx); // refresh only
      expect((await send(url, 'GET', '/v1/instances', { ...client, 'if-none-match': etag })).status).to.equal(304);
      await gateway.store.observeInstance(instanceObs({ id: 'c' }), ctx); // a new member
      expect((await send(url, 'GET', '/v1/instances', { ...client, 'if-none-match': etag })).status).to.equal(200);
    });

    it('an empty cache is an empty page with observedAt null', async () => {
      const res = await send(url, 'GET', '/v1/instances', client);
      expect(res.json).to.deep.equal({ data: [], meta: { strategy: 'cached-poll', observedAt: null, ageMs: 0, stale: false }, next: null });
    });
  });

  describe('deployments', () => {
    beforeEach(async () => {
      await gateway.store.observeDeployments([deploymentObs({ id: 'stack-1' }), deploymentObs({ id: 'stack-2', name: 'blog' })], ctx);
      await gateway.store.observeInstances([instanceObs({ id: 'srv-1' }), instanceObs({ id: 'srv-2' })], ctx);
    });

    it('GET /v1/deployments lists them with instanceIds, paged', async () => {
      const page1 = await send(url, 'GET', '/v1/deployments?limit=1', client);
      expect(page1.status).to.equal(200);
      expect(page1.json.data).to.have.length(1);
      expect(page1.json.data[0]).to.include({ id: 'stack-1', name: 'shop' });
      expect(page1.json.data[0].instanceIds).to.deep.equal(['srv-1', 'srv-2']);
      expect(page1.json.next).to.equal('stack-1');
      const page2 = await send(url, 'GET', '/v1/deployments?limit=1&cursor=stack-1', client);
      expect(page2.json.data.map((d: { id: string }) => d.id)).to.deep.equal(['stack-2']);
      expect(page2.json.next).to.equal(null);
      expect(strategy.targets).to.deep.include({ kind: 'deployments' });
    });

    it('GET /v1/deployments/:id serves one, 404 for unknown; its ETag follows instanceIds', async () => {
      const res = await send(url, 'GET', '/v1/deployments/stack-1', client);
      expect(res.status).to.equal(200);
      expect(res.json.data).to.deep.equal(await gateway.store.getDeployment('stack-1'));
      expect(res.json.meta.strategy).to.equal('cached-poll');
      const etag = String(res.headers.etag);
      expect((await send(url, 'GET', '/v1/deployments/stack-1', { ...client, 'if-none-match': etag })).status).to.equal(304);
      await gateway.store.observeDeployment(deploymentObs({ id: 'stack-1' }), ctx); // refresh only
      expect((await send(url, 'GET', '/v1/deployments/stack-1', { ...client, 'if-none-match': etag })).status).to.equal(304);
      await gateway.store.observeInstance(instanceObs({ id: 'srv-3' }), ctx); // same version, new instanceIds
      const changed = await send(url, 'GET', '/v1/deployments/stack-1', { ...client, 'if-none-match': etag });
      expect(changed.status).to.equal(200);
      expect(changed.json.data.instanceIds).to.deep.equal(['srv-1', 'srv-2', 'srv-3']);
      expectProblem(await send(url, 'GET', '/v1/deployments/stack-9', client), 404);
      expect(strategy.targets).to.deep.include({ kind: 'deployment', id: 'stack-1' });
    });

    it('GET /v1/deployments/:id/instances pages and filters one deployment; 404 when unknown', async () => {
      await gateway.store.observeInstance(
        instanceObs({ id: 'srv-x', deploymentId: 'stack-2', state: 'error', backend: { id: 'heat-1', kind: 'heat', status: 'ERROR' } }),
        ctx,
      );
      const res = await send(url, 'GET', '/v1/deployments/stack-1/instances?limit=1', client);
      expect(res.json.data.map((i: { id: string }) => i.id)).to.deep.equal(['srv-1']);
      expect(res.json.next).to.equal('srv-1');
      const rest = await send(url, 'GET', '/v1/deployments/stack-1/instances?cursor=srv-1', client);
      expect(rest.json.data.map((i: { id: string }) => i.id)).to.deep.equal(['srv-2']);
      const errors = await send(url, 'GET', '/v1/deployments/stack-2/instances?state=error', client);
      expect(errors.json.data.map((i: { id: string }) => i.id)).to.deep.equal(['srv-x']);
      expect((await send(url, 'GET', '/v1/deployments/stack-2/instances?state=running', client)).json.data).to.deep.equal([]);
      expectProblem(await send(url, 'GET', '/v1/deployments/stack-9/instances', client), 404);
      expect(strategy.targets).to.deep.include({ kind: 'instances', deploymentId: 'stack-1' });
    });

    it('a deployment known only from its instances (e.g. unassigned) lists them', async () => {
      await gateway.store.observeInstance(instanceObs({ id: 'lone', deploymentId: 'unassigned' }), ctx);
      const res = await send(url, 'GET', '/v1/deployments/unassigned/instances', client);
      expect(res.json.data.map((i: { id: string }) => i.id)).to.deep.equal(['lone']);
    });
  });
});
