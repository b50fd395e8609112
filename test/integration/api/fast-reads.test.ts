/**
 * The fast lane (src/api/fast-reads.ts) answers the hottest reads before express. It must
 * answer exactly as the express routes do, and leave to express everything it is not sure
 * of. Express still serves the same routes for `/v1/instances/srv-1/` (a trailing slash the
 * lane never takes), so each case is asked both ways and the answers compared.
 */
import { expect } from 'chai';
import type { IncomingMessage } from 'node:http';
import type { Gateway, GatewayModule } from '../../../src/gateway.js';
import { bearer, testConfig, TOKENS } from '../../helpers/gateway.js';
import { instanceObs } from '../../helpers/observations.js';
import { FakeStrategy, send, startApiGateway, type RawResponse } from './api-test-helpers.js';

const client = bearer(TOKENS.client);

/** Records which requests the lane took. */
function watchLane(gateway: Gateway): string[] {
  const taken: string[] = [];
  const module = gateway.modules.find((m) => m.name === 'conductor-api') as GatewayModule & { serveFast: NonNullable<GatewayModule['serveFast']> };
  const serve = module.serveFast.bind(module);
  module.serveFast = (req: IncomingMessage, res) => {
    const took = serve(req, res);
    if (took) taken.push(`${req.method} ${req.url}`);
    return took;
  };
  return taken;
}

/** What a client sees of an answer (the headers a read sets, and the body). */
function seen(res: RawResponse) {
  const { etag, 'cache-control': cacheControl, 'content-type': contentType, 'retry-after': retryAfter } = res.headers;
  return { status: res.status, etag, cacheControl, contentType, retryAfter, text: res.text };
}

describe('Conductor API: reads served before express', () => {
  let gateway: Gateway;
  let url: string;
  let strategy: FakeStrategy;
  let taken: string[];
  const clock = Date.UTC(2026, 10, 25, 12, 0, 0);
  const ctx = { source: 'cached-poll' };

  beforeEach(async () => {
    ({ gateway, url, strategy } = await startApiGateway({ now: () => clock }));
    taken = watchLane(gateway);
    for (let n = 1; n <= 5; n++) await gateway.store.observeInstance(instanceObs({ id: `srv-${n}` }), { ...ctx, observedAtMs: clock - n * 1_000 });
  });
  afterEach(() => gateway.stop());

  /** Asks `path` through the lane and `expressPath` through express; both answers must match. */
  async function both(path: string, expressPath: string, headers: Record<string, string> = client): Promise<RawResponse> {
    const before = taken.length;
    const fast = await send(url, 'GET', path, headers);
    expect(taken.slice(before), `the lane took ${path}`).to.deep.equal([`GET ${path}`]);
    const slow = await send(url, 'GET', expressPath, headers);
    expect(taken.length, `express served ${expressPath}`).to.equal(before + 1);
    expect(seen(fast)).to.deep.equal(seen(slow));
    return fast;
  }

  it('answers one instance, a 304 and a 404 as the express route does', async () => {
    const one = await both('/v1/instances/srv-2', '/v1/instances/srv-2/');
    expect(one.status).to.equal(200);
    expect(one.json.meta.ageMs).to.equal(2_000);
    const notModified = await both('/v1/instances/srv-2', '/v1/instances/srv-2/', { ...client, 'if-none-match': String(one.headers.etag) });
    expect(notModified.status).to.equal(304);
    expect((await both('/v1/instances/nope', '/v1/instances/nope/')).status).to.equal(404);
    // Percent-encoded ids are decoded as the router decodes them.
    await gateway.store.observeInstance(instanceObs({ id: 'srv/ä' }), ctx);
    expect((await both('/v1/instances/srv%2F%C3%A4', '/v1/instances/srv%2F%C3%A4/')).json.data.id).to.equal('srv/ä');
  });

  it('answers pages (default, limit, cursor) as the express route does', async () => {
    const first = await both('/v1/instances?limit=2', '/v1/instances/?limit=2');
    expect(first.json.data.map((i: { id: string }) => i.id)).to.deep.equal(['srv-1', 'srv-2']);
    const next = await both(`/v1/instances?limit=2&cursor=${first.json.next}`, `/v1/instances/?limit=2&cursor=${first.json.next}`);
    expect(next.json.data.map((i: { id: string }) => i.id)).to.deep.equal(['srv-3', 'srv-4']);
    expect((await both('/v1/instances', '/v1/instances/')).json.data).to.have.length(5);
  });

  it('answers stale reads and a failed refresh of something not cached (503, Retry-After) as express does', async () => {
    strategy.staleMs = 2_500;
    expect((await both('/v1/instances/srv-3', '/v1/instances/srv-3/')).json.meta.stale).to.equal(true);
    strategy.answer = { failed: true, reason: 'backend down' };
    const missing = await both('/v1/instances/nope', '/v1/instances/nope/');
    expect(missing.status).to.equal(503);
    expect(missing.headers['retry-after']).to.equal('5');
    strategy.throwOnRead = new Error('bug');
    expect((await both('/v1/instances?limit=1', '/v1/instances/?limit=1')).json.meta.staleReason).to.contain('bug');
  });

  it('leaves to express whatever it is not sure of, and express answers it', async () => {
    const cases: [string, Record<string, string>, number, string?][] = [
      ['/v1/instances/srv-1', {}, 401],
      ['/v1/instances/srv-1', bearer('not-a-token'), 401],
      ['/v1/instances/srv-1', bearer(TOKENS.backend), 403],
      ['/v1/instances/%7Bsrv%7D', client, 400, 'params.id'],
      ['/v1/instances/%C3%28', client, 400],
      ['/v1/instances/srv-1?x=1', client, 400, 'query.x'],
      ['/v1/instances?limit=0', client, 400, 'query.limit'],
      ['/v1/instances?limit=1001', client, 400, 'query.limit'],
      ['/v1/instances?limit=1&limit=2', client, 400, 'query.limit'],
      ['/v1/instances?cursor=a%20b', client, 400, 'query.cursor'],
      ['/v1/instances?state=running', client, 200],
      ['/v1/instances?limit=007', client, 200],
      ['/V1/INSTANCES/srv-1', client, 200],
    ];
    for (const [path, headers, status, field] of cases) {
      const res = await send(url, 'GET', path, headers);
      expect(res.status, `${path}: ${res.text}`).to.equal(status);
      if (field) expect(JSON.stringify(res.json.errors)).to.contain(field);
    }
    expect((await send(url, 'HEAD', '/v1/instances/srv-1', client)).status).to.equal(200);
    expect((await send(url, 'GET', '/v1/instances/srv-1', { ...client, 'content-type': 'application/json' }, '{"x":1}')).status).to.equal(400);
    expect(taken).to.deep.equal([]);
    // An admin may read too: taken.
    expect((await send(url, 'GET', '/v1/instances/srv-1', bearer(TOKENS.admin))).status).to.equal(200);
    expect(taken).to.have.length(1);
  });

  it('leaves reads to express while a per-token rate limit is configured (it keeps its bucket in Redis)', async () => {
    await gateway.stop();
    const config = await testConfig({ auth: { ...(await testConfig()).auth, rateLimit: { perSecond: 0.01, burst: 2 } } });
    ({ gateway, url } = await startApiGateway({ config, now: () => clock }));
    taken = watchLane(gateway);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await send(url, 'GET', '/v1/instances/srv-1', client)).status);
    expect(statuses).to.deep.equal([404, 404, 429]);
    expect(taken).to.deep.equal([]);
  });

  it('records the request duration under the route template, as express does', async () => {
    await send(url, 'GET', '/v1/instances/srv-1', client);
    await send(url, 'GET', '/v1/instances?limit=1', client);
    const values = (await gateway.metrics.httpDuration.get()).values.filter((v) => v.metricName === 'hgw_http_request_duration_seconds_count');
    const count = (route: string) => values.find((v) => v.labels.route === route && v.labels.status === '200' && v.labels.method === 'GET')?.value;
    expect(count('/v1/instances/:id')).to.equal(1);
    expect(count('/v1/instances')).to.equal(1);
    expect(taken).to.have.length(2);
  });
});
