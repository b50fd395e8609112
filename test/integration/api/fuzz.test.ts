/**
 * Seeded fuzzing over every route of /openapi.json (fast-check): random methods, path
 * parameters, query strings, bodies, content types and encodings (gzip of JSON, gzip of
 * garbage, unknown encodings), headers, with and without tokens of every role. Invariants:
 * never a 5xx; every error is problem+json; nothing stored changes unless the request
 * succeeded at changing it (a DUMP of every key, compared after each request).
 *
 * FUZZ_RUNS sets the number of requests (default 2,000), FUZZ_SEED replays a run; a failure
 * prints the seed and the index of the request that broke an invariant.
 */
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import fc from 'fast-check';
import { createConductorApiModule } from '../../../src/api/conductor-api-module.js';
import { Gateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/log/logger.js';
import { prefixPattern } from '../../../src/store/delete-prefix.js';
import { createStrategyModules } from '../../../src/strategy/strategy-modules.js';
import { createWebhookModule } from '../../../src/webhooks/create-webhook-module.js';
import { bearer, testConfig, TOKENS } from '../../helpers/gateway.js';
import { send, type RawResponse } from '../../helpers/http.js';
import { deploymentObs, instanceObs } from '../../helpers/observations.js';
import { testRedis } from '../../helpers/redis.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 2_000);
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
/** Keys background work rewrites on its own schedule (queues, due sets, lease, strategy record, refresh outcomes). */
const VOLATILE = /^(bull:|due:|wh:lead|strategy|refresh-failures)/;
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

interface Fuzzed {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

async function snapshot(gateway: Gateway): Promise<Map<string, string>> {
  const prefix = gateway.config.redis.keyPrefix;
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await testRedis(gateway.config.redis.url).scan(cursor, 'MATCH', prefixPattern(prefix), 'COUNT', 1_000);
    cursor = next;
    keys.push(...batch.filter((k) => !VOLATILE.test(k.slice(prefix.length))));
  } while (cursor !== '0');
  const pipeline = testRedis(gateway.config.redis.url).pipeline();
  for (const key of keys) pipeline.dumpBuffer(key);
  const dumps = (await pipeline.exec()) ?? [];
  return new Map(keys.map((k, i) => [k, ((dumps[i]?.[1] as Buffer | null) ?? Buffer.alloc(0)).toString('base64')]));
}

function changedKeys(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k));
}

describe('fuzzing every route of /openapi.json (fast-check)', function () {
  this.timeout(600_000);
  let gateway: Gateway;
  let url: string;
  let webhookId: string;

  before(async () => {
    const config = await testConfig({
      strategy: { name: 'cached-poll' },
      backends: [{ id: 'heat-1', kind: 'heat', endpoint: 'http://127.0.0.1:9/v1/t', token: 'x', retries: 0, timeoutMs: 200 }],
    });
    gateway = new Gateway({
      config,
      logger: silentLogger(),
      modules: [
        (deps) => {
          const strategy = createStrategyModules(deps, { retryBaseDelayMs: 5 });
          return [...strategy.modules, createConductorApiModule(deps, strategy.runtime)];
        },
        // Routes only: deliveries running in the background would change keys between requests.
        (deps) => createWebhookModule(deps, { background: false }),
      ],
    });
    url = await gateway.start();
    await gateway.store.observeDeployment(deploymentObs({ id: 'stack-1' }), { source: 'cached-poll' });
    await gateway.store.observeInstances([instanceObs(), instanceObs({ id: 'srv-2', state: 'vanished' })], { source: 'cached-poll' });
    const created = await send(url, 'POST', '/v1/webhooks', { ...bearer(TOKENS.client), 'content-type': 'application/json' }, JSON.stringify({ url: 'http://127.0.0.1:9/hook' }));
    expect(created.status, created.text).to.equal(201);
    webhookId = (created.json as { id: string }).id;
  });
  after(() => gateway?.stop());

  it(`${RUNS} random requests: no 5xx, errors are problem+json, nothing stored changes unless a request succeeded at it`, async () => {
    const doc = (await send(url, 'GET', '/openapi.json')).json as { paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>> };
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name) })),
    );
    expect(routes.length).to.be.greaterThan(25);

    const junk = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.constantFrom('', '0', '-1', '1e309', 'null', 'true', '[]', '{}', '__proto__', 'constructor', 'x'.repeat(400), '\u0000', '\uFFFD', 'wh_', 'evt_'),
    );
    const rawSegment = fc.constantFrom('%C3%28', '%00', '%', '%ZZ', '%7Bx%7D', 'a%20b', '..', '%2F', '%E2%80%AE');
    const segment = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom('srv-1', 'srv-2', 'stack-1', 'heat-1', 'unknown-backend', webhookId, 'evt_00000000000000000000000000000000') },
      { weight: 3, arbitrary: junk.map(encodeURIComponent) },
      { weight: 1, arbitrary: rawSegment },
    );
    const value = fc.oneof(junk.map(encodeURIComponent), rawSegment, fc.integer().map(String), fc.constantFrom('deleted', 'vanished', 'DELETE_COMPLETE', 'running', '1000', '1001', '0-0', '1764064800000-0'));
    const jsonBody = fc.oneof(
      fc.json({ maxDepth: 3 }),
      fc.record({ url: fc.oneof(fc.webUrl(), junk), events: fc.array(junk, { maxLength: 3 }), description: junk }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
      fc.record({ name: fc.oneof(fc.constantFrom('on-demand', 'cached-poll', 'webhook', 'deltacloud-poll'), junk) }).map((o) => JSON.stringify(o)),
      fc.record({ since: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), junk) }).map((o) => JSON.stringify(o)),
      fc.constantFrom('{"a":', '[1,2', '{"__proto__":{"polluted":true}}', `${'['.repeat(5_000)}${']'.repeat(5_000)}`),
    );
    const body = fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 4, arbitrary: jsonBody.map((t) => Buffer.from(t)) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) },
    );
    const encoding = fc.constantFrom<[string | undefined, (b: Buffer) => Buffer]>(
      [undefined, (b) => b],
      [undefined, (b) => b],
      ['identity', (b) => b],
      ['gzip', (b) => gzipSync(b)],
      ['gzip', (b) => Buffer.concat([Buffer.from('garbage'), b])],
      ['deflate', (b) => b],
      ['br', (b) => b],
      ['x-unknown', (b) => b],
      ['gzip, gzip', (b) => gzipSync(b)],
    );
    const contentType = fc.constantFrom(undefined, 'application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'text/plain', 'application/x-www-form-urlencoded', 'application/merge-patch+json');
    const token = fc.constantFrom(undefined, TOKENS.client, TOKENS.admin, TOKENS.backend, 'not-a-valid-token-at-all', 'Basic dXNlcjpwYXNz');
    const extra = fc.record(
      { 'if-none-match': fc.oneof(junk, fc.constant('*'), fc.constant('W/"i1"')), 'last-event-id': fc.oneof(junk, fc.constant('0')), accept: fc.constantFrom('*/*', 'text/html', 'application/xml'), 'x-signature': junk },
      { requiredKeys: [] },
    );

    const request: fc.Arbitrary<Fuzzed> = fc
      .record({
        route: fc.constantFrom(...routes),
        otherMethod: fc.option(fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'), { freq: 5 }),
        segments: fc.array(segment, { minLength: 2, maxLength: 2 }),
        query: fc.array(fc.tuple(fc.oneof(fc.constantFrom('limit', 'cursor', 'state', 'status', 'include', 'deploymentId', 'after'), junk.map(encodeURIComponent)), value), { maxLength: 4 }),
        body,
        encoding,
        contentType,
        token,
        extra,
      })
      .map(({ route, otherMethod, segments, query, body: payload, encoding: [enc, encode], contentType: type, token: tok, extra: more }) => {
        let i = 0;
        const path = route.path.replace(/\{[^}]+\}/g, () => segments[i++ % segments.length]!);
        const qs = query.map(([k, v]) => `${k}=${v}`).join('&');
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(more)) if (v !== undefined) headers[k] = encodeURIComponent(v);
        if (tok) headers.authorization = tok.startsWith('Basic') ? tok : `Bearer ${tok}`;
        if (type) headers['content-type'] = type;
        if (enc && payload) headers['content-encoding'] = enc;
        return { method: otherMethod ?? route.method, path: qs ? `${path}?${qs}` : path, headers, body: payload === undefined ? undefined : encode(payload) };
      });

    let baseline = await snapshot(gateway);
    let index = -1;
    const seen = { statuses: new Map<number, number>() };
    console.log(`      (fuzz seed ${SEED}, ${RUNS} requests; replay with FUZZ_SEED=${SEED})`);
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        index += 1;
        const where = `seed ${SEED}, request #${index}: ${r.method} ${r.path} ${JSON.stringify(r.headers)} body ${r.body?.toString('base64').slice(0, 200) ?? '-'}`;
        let res: RawResponse;
        try {
          let timer: NodeJS.Timeout | undefined;
          res = await Promise.race([
            send(url, r.method, r.path, r.headers, r.body),
            new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no answer within 10 s (a hang)')), 10_000))),
          ]).finally(() => clearTimeout(timer));
        } catch (err) {
          throw new Error(`${where}: the request failed: ${(err as Error).message}`);
        }
        seen.statuses.set(res.status, (seen.statuses.get(res.status) ?? 0) + 1);
        // /readyz reports the unreachable backend this gateway is configured with: its 503 is its answer.
        const readiness = r.path.split('?')[0] === '/readyz' && res.status === 503;
        if (res.status >= 500 && !readiness) throw new Error(`${where}: ${res.status} ${res.text.slice(0, 300)}`);
        if (res.status >= 400 && r.method !== 'HEAD') {
          if (!/^application\/problem\+json/.test(String(res.headers['content-type']))) throw new Error(`${where}: ${res.status} is not problem+json: ${res.text.slice(0, 200)}`);
          if (res.json?.status !== res.status || typeof res.json?.detail !== 'string') throw new Error(`${where}: not a problem document: ${res.text.slice(0, 200)}`);
        }
        const after = await snapshot(gateway);
        const changed = changedKeys(baseline, after);
        if (changed.length > 0 && !(res.status < 300 && MUTATING.has(r.method))) {
          throw new Error(`${where}: answered ${res.status} but changed ${changed.join(', ')}`);
        }
        baseline = after;
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    expect(index + 1).to.equal(RUNS);
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    console.log(`      (statuses: ${[...seen.statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ')})`);
  });
});
