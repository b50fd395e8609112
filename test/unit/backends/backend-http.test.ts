import { expect } from 'chai';
import nock from 'nock';
import { BackendHttp, backoffDelayMs, Semaphore, toIsoUtc } from '../../../src/backends/backend-http.js';
import { silentLogger } from '../../../src/log/logger.js';
import { RecordingObserver, useNock, failure } from './backend-test-helpers.js';

const BASE = 'http://backend.example.com';

function http(overrides: Partial<ConstructorParameters<typeof BackendHttp>[0]> = {}) {
  const observer = new RecordingObserver();
  const client = new BackendHttp({
    backendId: 'b1',
    // Long enough that a loaded CI machine never turns an answered request into a timeout;
    // the timeout test sets its own.
    timeoutMs: 2_000,
    retries: 2,
    concurrency: 4,
    logger: silentLogger(),
    observer,
    retryBaseDelayMs: 1,
    retryMaxDelayMs: 4,
    ...overrides,
  });
  return { client, observer };
}

describe('backend-http', () => {
  useNock();

  describe('backoffDelayMs', () => {
    it('grows exponentially, is capped, and is fully jittered', () => {
      expect(backoffDelayMs(1, 100, 10_000, () => 0.5)).to.equal(50);
      expect(backoffDelayMs(2, 100, 10_000, () => 0.5)).to.equal(100);
      expect(backoffDelayMs(3, 100, 10_000, () => 0.5)).to.equal(200);
      expect(backoffDelayMs(10, 100, 1_000, () => 0.999)).to.equal(999);
      expect(backoffDelayMs(3, 100, 10_000, () => 0)).to.equal(0);
    });

    it('draws a fresh random value for each retry', async () => {
      const draws: number[] = [];
      const { client } = http({
        random: () => {
          draws.push(1);
          return 0.25;
        },
      });
      const scope = nock(BASE).get('/x').times(3).reply(503, 'busy');
      await failure(client.request({ call: 'test', method: 'GET', url: `${BASE}/x` }));
      expect(scope.isDone()).to.equal(true);
      expect(draws).to.have.length(2);
    });
  });

  describe('retries', () => {
    it('retries a GET on 503 and on a reset connection, then succeeds', async () => {
      const { client, observer } = http();
      const scope = nock(BASE)
        .get('/x')
        .reply(503, 'busy')
        .get('/x')
        .replyWithError('socket hang up')
        .get('/x')
        .reply(200, { ok: true }, { 'content-type': 'application/json' });
      const res = await client.request({ call: 'test', method: 'GET', url: `${BASE}/x` });
      expect(res.status).to.equal(200);
      expect(scope.isDone()).to.equal(true);
      expect(observer.events.map((e) => [e.attempt, e.status, e.error])).to.deep.equal([
        [1, 503, 'http'],
        [2, null, 'network'],
        [3, 200, undefined],
      ]);
    });

    it('gives up after `retries` extra attempts with the last status', async () => {
      const { client, observer } = http({ retries: 1 });
      const scope = nock(BASE).get('/x').times(2).reply(502, 'bad gateway');
      const err = await failure(client.request({ call: 'test', method: 'GET', url: `${BASE}/x` }));
      expect(scope.isDone()).to.equal(true);
      expect(err.reason).to.equal('http');
      expect(err.upstreamStatus).to.equal(502);
      expect(observer.events).to.have.length(2);
    });

    it('never retries a POST', async () => {
      const { client, observer } = http({ retries: 3 });
      const scope = nock(BASE).post('/x', { a: 1 }).reply(503, 'busy');
      const spare = nock(BASE).post('/x').reply(200, {});
      const err = await failure(client.request({ call: 'test', method: 'POST', url: `${BASE}/x`, json: { a: 1 } }));
      expect(err.upstreamStatus).to.equal(503);
      expect(scope.isDone()).to.equal(true);
      expect(spare.isDone()).to.equal(false);
      expect(observer.events).to.have.length(1);
    });

    it('does not retry a 404', async () => {
      const { client } = http();
      const scope = nock(BASE).get('/x').reply(404, 'nope');
      const spare = nock(BASE).get('/x').reply(200, {});
      const err = await failure(client.request({ call: 'test', method: 'GET', url: `${BASE}/x` }));
      expect(err.reason).to.equal('http');
      expect(scope.isDone()).to.equal(true);
      expect(spare.isDone()).to.equal(false);
    });
  });

  describe('failures become typed errors', () => {
    it('a hung connection is a timeout', async () => {
      const { client, observer } = http({ retries: 0, timeoutMs: 100 });
      const scope = nock(BASE).get('/slow').delay(2_000).reply(200, {});
      const err = await failure(client.request({ call: 'test', method: 'GET', url: `${BASE}/slow` }));
      expect(err.reason).to.equal('timeout');
      expect(err.backend).to.equal('b1');
      expect(scope.isDone()).to.equal(true);
      expect(observer.events[0]).to.include({ status: null, error: 'timeout' });
    });

    it('401 and 403 are auth errors carrying the upstream message', async () => {
      const { client } = http();
      nock(BASE)
        .get('/x')
        .reply(401, { error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' } }, { 'content-type': 'application/json' });
      const err = await failure(client.request({ call: 'test', method: 'GET', url: `${BASE}/x` }));
      expect(err.reason).to.equal('auth');
      expect(err.upstreamStatus).to.equal(401);
      expect(err.message).to.contain('requires authentication');
    });

    it('keeps a bounded snippet of a large error body', async () => {
      const { client } = http({ retries: 0 });
      nock(BASE).get('/x').reply(500, 'x'.repeat(10_000));
      const err = await failure(client.request({ call: 'test', method: 'GET', url: `${BASE}/x` }));
      expect(err.snippet!.length).to.be.lessThan(600);
    });
  });

  describe('concurrency', () => {
    it('never has more than `concurrency` requests in flight', async () => {
      const { client } = http({ concurrency: 2, retries: 0, timeoutMs: 5_000 });
      const total = 6;
      let current = 0;
      let max = 0;
      let arrived = 0;
      const held: (() => void)[] = [];
      const pump = () =>
        setImmediate(() => {
          if (held.length >= 2 || (arrived === total && held.length > 0)) {
            held.shift()!();
            pump();
          }
        });
      const scope = nock(BASE)
        .get('/x')
        .times(total)
        .reply(async () => {
          current += 1;
          arrived += 1;
          max = Math.max(max, current);
          await new Promise<void>((resolve) => {
            held.push(() => {
              current -= 1;
              resolve();
            });
            pump();
          });
          return [200, '{}', { 'content-type': 'application/json' }];
        });
      const results = await Promise.all(
        Array.from({ length: total }, () => client.request({ call: 'test', method: 'GET', url: `${BASE}/x` })),
      );
      expect(results).to.have.length(total);
      expect(scope.isDone()).to.equal(true);
      expect(max).to.equal(2);
      expect(client.inFlight).to.equal(0);
    });

    it('Semaphore hands slots over in FIFO order', async () => {
      const sem = new Semaphore(1);
      const order: number[] = [];
      const r1 = await sem.acquire();
      const p2 = sem.acquire().then((r) => (order.push(2), r));
      const p3 = sem.acquire().then((r) => (order.push(3), r));
      expect(sem.inFlight).to.equal(1);
      r1();
      (await p2)();
      (await p3)();
      expect(order).to.deep.equal([2, 3]);
      expect(sem.inFlight).to.equal(0);
    });
  });

  describe('toIsoUtc', () => {
    it('treats offset-less times as UTC and keeps explicit offsets', () => {
      expect(toIsoUtc('2030-01-01T10:00:00')).to.equal('2030-01-01T10:00:00.000Z');
      expect(toIsoUtc('2030-01-01T10:00:00.123456')).to.equal('2030-01-01T10:00:00.123Z');
      expect(toIsoUtc('2030-01-01T12:00:00+02:00')).to.equal('2030-01-01T10:00:00.000Z');
      expect(toIsoUtc('2030-01-01T10:00:00Z')).to.equal('2030-01-01T10:00:00.000Z');
      expect(toIsoUtc('not a time')).to.equal(null);
      expect(toIsoUtc(null)).to.equal(null);
    });
  });
});
