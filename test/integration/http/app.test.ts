import { expect } from 'chai';
import { z } from 'zod';
import { Gateway } from '../../../src/gateway.js';
import { InputError } from '../../../src/errors.js';
import { bearer, startTestGateway, TOKENS } from '../../helpers/gateway.js';
import { gzipSync } from 'node:zlib';
import { send, type RawResponse } from '../../helpers/http.js';

function expectProblem(res: RawResponse, status: number) {
  expect(res.status, res.text).to.equal(status);
  expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
  expect(res.json).to.include.keys('type', 'title', 'status', 'detail');
  expect(res.json.status).to.equal(status);
  expect(res.text).to.not.match(/at \w+ \(|node_modules|<html/i);
}

describe('HTTP skeleton', () => {
  let gateway: Gateway;
  let url: string;

  before(async () => {
    const started = await startTestGateway({
      modules: [
        () => ({
          name: 'test',
          routes(api) {
            api
              .route({
                method: 'post', path: '/test/echo', summary: 'echo', tag: 'test', auth: ['admin'],
                body: z.object({}).passthrough(), responses: { 200: { description: 'echo' } },
                handler: ({ body, principal, res }) => res.json({ got: body, by: principal }),
              })
              .route({
                method: 'post', path: '/test/echo-any', summary: 'echo any JSON', tag: 'test', auth: ['admin'],
                body: z.unknown(), responses: { 200: { description: 'echo' } },
                handler: ({ body, res }) => res.json({ got: body }),
              })
              .route({
                method: 'get', path: '/test/client', summary: 'client', tag: 'test', auth: ['client'],
                responses: { 200: { description: 'who' } },
                handler: ({ principal, res }) => res.json({ by: principal }),
              })
              .route({
                method: 'get', path: '/test/boom', summary: 'boom', tag: 'test', auth: 'public', responses: {},
                handler: () => {
                  throw new Error('secret internals at /srv/app.ts:12');
                },
              })
              .route({
                method: 'get', path: '/test/redis-down', summary: 'redis down', tag: 'test', auth: 'public', responses: {},
                handler: () => {
                  // What ioredis rejects a command with while the connection is down.
                  throw new Error("Stream isn't writeable and enableOfflineQueue options is false");
                },
              })
              .route({
                method: 'get', path: '/test/bad', summary: 'bad', tag: 'test', auth: 'public', responses: {},
                handler: () => {
                  throw new InputError('limit is wrong', [{ path: 'limit', message: 'must be 1-1000' }]);
                },
              })
              .route({
                method: 'get', path: '/test/items/:id', summary: 'typed', tag: 'test', auth: 'public',
                params: z.object({ id: z.string().regex(/^[a-z]+$/) }),
                query: z.object({ limit: z.coerce.number().int().min(1).max(10).optional() }).strict(),
                responses: { 200: { description: 'ok' } },
                handler: ({ params, query, res }) => res.json({ params, query }),
              });
          },
        }),
      ],
    });
    gateway = started.gateway;
    url = started.url;
  });

  after(() => gateway.stop());

  it('/healthz answers 200', async () => {
    const res = await send(url, 'GET', '/healthz');
    expect(res.status).to.equal(200);
    expect(res.json.status).to.equal('ok');
  });

  it('/readyz answers 200 with the Redis check', async () => {
    const res = await send(url, 'GET', '/readyz');
    expect(res.status).to.equal(200);
    expect(res.json.checks.redis.ok).to.equal(true);
  });

  it('an unknown route is a 404 problem', async () => {
    expectProblem(await send(url, 'GET', '/v1/nothing-here'), 404);
  });

  it('malformed JSON is a 400 problem naming the body', async () => {
    const res = await send(url, 'POST', '/test/echo', { ...bearer(TOKENS.admin), 'content-type': 'application/json' }, '{"a": 1,');
    expectProblem(res, 400);
    expect(res.json.errors[0].path).to.equal('body');
  });

  it('a body over the limit is a 413 problem', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(1_100_000) });
    const res = await send(url, 'POST', '/test/echo', { ...bearer(TOKENS.admin), 'content-type': 'application/json' }, big);
    expectProblem(res, 413);
    expect(res.json.detail).to.match(/bodyLimitBytes/);
  });

  it('invalid UTF-8 is a 400 problem', async () => {
    const res = await send(
      url,
      'POST',
      '/test/echo',
      { ...bearer(TOKENS.admin), 'content-type': 'application/json' },
      Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]),
    );
    expectProblem(res, 400);
    expect(res.json.detail).to.match(/UTF-8/);
  });

  it('valid JSON reaches the route', async () => {
    const res = await send(url, 'POST', '/test/echo', { ...bearer(TOKENS.admin), 'content-type': 'application/json' }, '{"a":"☃"}');
    expect(res.status).to.equal(200);
    expect(res.json).to.deep.equal({ got: { a: '☃' }, by: { name: 'test-admin', role: 'admin' } });
  });

  describe('a list over 128 KiB (parsed element by element, src/http/json-list.ts)', () => {
    const json = { ...bearer(TOKENS.admin), 'content-type': 'application/json' };
    // ~300 KB of elements holding what a cutter could trip on.
    const list = Array.from({ length: 1_500 }, (_, i) => ({ i, text: `"]},[{\\ ☃ 😀 ${'x'.repeat(150)}`, nested: [{ a: [i] }, []] }));
    const text = JSON.stringify(list, null, 1);

    it('reaches the route as the value express.json would give, plain or gzip', async () => {
      expect(Buffer.byteLength(text)).to.be.greaterThan(128 * 1024);
      for (const [headers, body] of [[json, text], [{ ...json, 'content-encoding': 'gzip' }, gzipSync(text)]] as const) {
        const res = await send(url, 'POST', '/test/echo-any', headers, body);
        expect(res.status).to.equal(200);
        expect(res.json.got).to.deep.equal(list);
      }
    });

    it('is refused as before when it is not valid JSON', async () => {
      const broken = `${text.slice(0, -2)},]`;
      const res = await send(url, 'POST', '/test/echo-any', json, broken);
      expectProblem(res, 400);
      expect(res.json.errors[0].path).to.equal('body');
      let message = '';
      try {
        JSON.parse(broken);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(res.json.detail).to.equal(`the request body is not valid JSON: ${message.slice(0, 200)}`);
    });
  });

  describe('auth', () => {
    it('401 without a token, with WWW-Authenticate', async () => {
      const res = await send(url, 'GET', '/test/client');
      expectProblem(res, 401);
      expect(res.headers['www-authenticate']).to.match(/^Bearer/);
    });

    it('401 with a wrong token, a token of another length, or another scheme', async () => {
      for (const authorization of [`Bearer ${TOKENS.client.slice(0, -1)}x`, 'Bearer short', `Basic ${TOKENS.client}`, 'Bearer']) {
        expectProblem(await send(url, 'GET', '/test/client', { authorization }), 401);
      }
    });

    it('403 with a token of the wrong role', async () => {
      const res = await send(url, 'GET', '/test/client', bearer(TOKENS.backend));
      expectProblem(res, 403);
      expect(res.json.detail).to.match(/role 'backend'/);
      expectProblem(await send(url, 'POST', '/test/echo', { ...bearer(TOKENS.client), 'content-type': 'application/json' }, '{}'), 403);
    });

    it('an admin may do what a client may', async () => {
      const res = await send(url, 'GET', '/test/client', bearer(TOKENS.admin));
      expect(res.status).to.equal(200);
    });
  });

  it('an unexpected error is a 500 problem without internals', async () => {
    const res = await send(url, 'GET', '/test/boom');
    expectProblem(res, 500);
    expect(res.text).to.not.contain('secret internals');
  });

  it('a Redis connection error is a 503 with Retry-After, decided in one place', async () => {
    const res = await send(url, 'GET', '/test/redis-down');
    expectProblem(res, 503);
    expect(res.headers['retry-after']).to.match(/^\d+$/);
  });

  it('a body that does not decompress is a 400, an unknown Content-Encoding a 415, both naming the header', async () => {
    const admin = { ...bearer(TOKENS.admin), 'content-type': 'application/json' };
    const garbage = await send(url, 'POST', '/test/echo', { ...admin, 'content-encoding': 'gzip' }, 'certainly not gzip');
    expectProblem(garbage, 400);
    expect(garbage.json.errors[0].path).to.equal('headers.content-encoding');
    for (const encoding of ['deflate', 'br']) expectProblem(await send(url, 'POST', '/test/echo', { ...admin, 'content-encoding': encoding }, 'nope'), 400);
    const unknown = await send(url, 'POST', '/test/echo', { ...admin, 'content-encoding': 'x-snappy' }, '{}');
    expectProblem(unknown, 415);
    expect(unknown.json.errors[0].path).to.equal('headers.content-encoding');
    const gzipped = await send(url, 'POST', '/test/echo', { ...admin, 'content-encoding': 'gzip' }, gzipSync('{"a":1}'));
    expect(gzipped.status).to.equal(200);
    expect(gzipped.json.got).to.deep.equal({ a: 1 });
  });

  it('validates params and query from the declared schemas, naming the field', async () => {
    expect((await send(url, 'GET', '/test/items/abc?limit=3')).json).to.deep.equal({ params: { id: 'abc' }, query: { limit: 3 } });
    const badParam = await send(url, 'GET', '/test/items/ABC');
    expectProblem(badParam, 400);
    expect(badParam.json.errors[0].path).to.equal('params.id');
    const badType = await send(url, 'GET', '/test/items/abc?limit=many');
    expectProblem(badType, 400);
    expect(badType.json.errors[0].path).to.equal('query.limit');
    const unknown = await send(url, 'GET', '/test/items/abc?limt=3');
    expectProblem(unknown, 400);
    expect(unknown.json.errors[0].path).to.equal('query.limt');
    const repeated = await send(url, 'GET', '/test/items/abc?limit=1&limit=2');
    expectProblem(repeated, 400);
  });

  it('an InputError keeps its field list', async () => {
    const res = await send(url, 'GET', '/test/bad');
    expectProblem(res, 400);
    expect(res.json.errors).to.deep.equal([{ path: 'limit', message: 'must be 1-1000' }]);
  });
});
