/**
 * Bad input over every declared route (table-driven from `gateway.api.declared`, so a new
 * route is covered without touching this file): each case must be a 4xx problem+json naming
 * the field, never a 5xx, and must leave every key under the test prefix unchanged.
 */
import { expect } from 'chai';
import { Gateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/log/logger.js';
import { prefixPattern } from '../../../src/store/delete-prefix.js';
import { defaultModules } from '../../../src/modules.js';
import { bearer, testConfig, TOKENS } from '../../helpers/gateway.js';
import { testRedis, waitFor } from '../../helpers/redis.js';
import { deploymentObs, instanceObs } from '../../helpers/observations.js';
import { send, startApiGateway } from './api-test-helpers.js';

interface BadCase {
  what: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** The problem's `errors[].path` must start with this (when the case can name a field). */
  field?: string;
}

const json = { 'content-type': 'application/json' };
const MALFORMED_IDS: [string, string][] = [
  ['NUL byte', '%00'],
  ['space', 'a%20b'],
  ['braces (a second hash tag)', '%7Bx%7D'],
  ['300 characters', 'x'.repeat(300)],
  ['control character', 'a%0Ab'],
];

/**
 * Keys under the prefix with their DUMP, so any change (value, type, TTL-less rewrite) shows.
 * `volatile` keys belong to background work that rewrites them on its own schedule.
 */
async function snapshot(gateway: Gateway, volatile?: RegExp): Promise<Map<string, string>> {
  const prefix = gateway.config.redis.keyPrefix;
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await testRedis(gateway.config.redis.url).scan(cursor, 'MATCH', prefixPattern(prefix), 'COUNT', 1_000);
    cursor = next;
    for (const key of keys) {
      if (volatile?.test(key.slice(prefix.length))) continue;
      out.set(key, ((await testRedis(gateway.config.redis.url).dumpBuffer(key)) ?? Buffer.alloc(0)).toString('base64'));
    }
  } while (cursor !== '0');
  return out;
}

/** A well-formed value for each path parameter, so each case tests only the field it names. */
function validParam(route: string, name: string, known: Record<string, string>): string {
  if (route.startsWith('/v1/webhooks/') && name === 'id') return known.webhookId ?? 'wh_0000000000000000';
  if (name === 'deliveryId') return 'evt_00000000000000000000000000000000';
  if (name === 'backendId') return 'heat-1';
  return 'srv-1';
}

function casesFor(route: { method: string; path: string }, queryParams: { name: string; schema: any }[], known: Record<string, string> = {}): BadCase[] {
  const params = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
  const valid = (override: Record<string, string> = {}) =>
    route.path.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => override[name] ?? validParam(route.path, name, known));
  const cases: BadCase[] = [];
  for (const name of params) {
    for (const [what, value] of MALFORMED_IDS) cases.push({ what: `${name}: ${what}`, path: valid({ [name]: value }), field: `params.${name}` });
    cases.push({ what: `${name}: invalid UTF-8`, path: valid({ [name]: '%C3%28' }), field: 'params' });
  }
  cases.push({ what: 'unknown query parameter', path: `${valid()}?bogus=1`, field: 'query.bogus' });
  cases.push({ what: '__proto__ query key', path: `${valid()}?__proto__=1`, field: 'query.__proto__' });
  cases.push({ what: 'constructor query key', path: `${valid()}?constructor=x`, field: 'query.constructor' });
  cases.push({ what: 'invalid UTF-8 query key', path: `${valid()}?%C3%28=1`, field: 'query.' });
  for (const p of queryParams) {
    const wrong = p.schema.type === 'integer' || p.schema.type === 'number' ? 'abc' : p.schema.enum ? 'NOT_A_VALUE' : '%7Bnot%20valid%7D';
    cases.push({ what: `${p.name}: wrong type/value`, path: `${valid()}?${p.name}=${wrong}`, field: `query.${p.name}` });
    cases.push({ what: `${p.name}: repeated`, path: `${valid()}?${p.name}=1&${p.name}=2`, field: `query.${p.name}` });
    cases.push({ what: `${p.name}: invalid UTF-8`, path: `${valid()}?${p.name}=%C3%28`, field: `query.${p.name}` });
    cases.push({ what: `${p.name}: huge`, path: `${valid()}?${p.name}=${'9'.repeat(5_000)}`, field: `query.${p.name}` });
  }
  cases.push({ what: 'huge body', path: valid(), headers: json, body: JSON.stringify({ pad: 'x'.repeat(1_100_000) }) });
  cases.push({ what: 'deeply nested body', path: valid(), headers: json, body: `${'['.repeat(100_000)}${']'.repeat(100_000)}`, field: 'body' });
  cases.push({ what: '__proto__ / constructor body', path: valid(), headers: json, body: '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}', field: 'body' });
  cases.push({ what: 'invalid UTF-8 body', path: valid(), headers: json, body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), field: 'body' });
  cases.push({ what: 'malformed JSON body', path: valid(), headers: json, body: '{"a":', field: 'body' });
  cases.push({ what: 'wrong body type', path: valid(), headers: json, body: '[1,2,3]', field: 'body' });
  return cases;
}

function badInputSuite(
  title: string,
  start: () => Promise<{ gateway: Gateway; url: string; known?: Record<string, string> }>,
  options: { minRoutes: number; volatile?: RegExp },
) {
  describe(title, () => {
    let gateway: Gateway;
    let url: string;
    let known: Record<string, string> = {};

    before(async () => {
      ({ gateway, url, known = {} } = await start());
      await gateway.store.observeDeployment(deploymentObs({ id: 'srv-1' }), { source: 'cached-poll' });
      await gateway.store.observeInstances([instanceObs(), instanceObs({ id: 'srv-2' })], { source: 'cached-poll' });
      await gateway.feed.append('gateway.strategy_changed', { from: 'on-demand', to: 'cached-poll' });
      // Webhook fan-out reads the feed through a consumer group (which changes the stream's
      // DUMP): let it catch up before anything is compared.
      const webhooks = gateway.modules.find((m) => m.name === 'webhooks') as { idle(): Promise<boolean> } | undefined;
      if (webhooks) await waitFor(() => webhooks.idle(), { what: 'webhook fan-out to catch up' });
    });
    after(() => gateway.stop());

    it('covers every declared route', () => {
      expect(gateway.api.declared.length).to.be.greaterThanOrEqual(options.minRoutes);
    });

    it('answers a 4xx problem naming the field, never a 5xx, and changes nothing stored', async function () {
      this.timeout(120_000);
      const doc = gateway.api.openapi({ title: 't', version: '0' }) as { paths: Record<string, Record<string, { parameters?: any[] }>> };
      const before = await snapshot(gateway, options.volatile);
      expect(before.size).to.be.greaterThan(5);
      const failures: string[] = [];
      let checked = 0;
      for (const route of gateway.api.declared) {
        const op = doc.paths[route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')]![route.method]!;
        const queryParams = (op.parameters ?? []).filter((p) => p.in === 'query');
        for (const c of casesFor(route, queryParams, known)) {
          const label = `${route.method.toUpperCase()} ${route.path} — ${c.what}`;
          const res = await send(url, route.method.toUpperCase(), c.path, { ...bearer(TOKENS.admin), ...c.headers }, c.body);
          checked += 1;
          if (res.status < 400 || res.status >= 500) {
            failures.push(`${label}: status ${res.status} ${res.text.slice(0, 200)}`);
            continue;
          }
          if (!/^application\/problem\+json/.test(String(res.headers['content-type']))) failures.push(`${label}: not problem+json`);
          if (res.json?.status !== res.status || typeof res.json?.detail !== 'string') failures.push(`${label}: not a problem document`);
          if (/at \w+ \(|node_modules|<html/i.test(res.text)) failures.push(`${label}: leaks internals`);
          if (c.field && !(res.json?.errors ?? []).some((e: { path: string }) => e.path.startsWith(c.field!))) {
            failures.push(`${label}: errors do not name ${c.field}: ${JSON.stringify(res.json?.errors)}`);
          }
        }
      }
      expect(failures, failures.join('\n')).to.deep.equal([]);
      expect(checked).to.be.greaterThan(150);
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      const after = await snapshot(gateway, options.volatile);
      expect([...after.keys()].sort()).to.deep.equal([...before.keys()].sort());
      for (const [key, dump] of before) expect(after.get(key), key).to.equal(dump);
    });
  });
}

badInputSuite('Conductor API: bad input over every route', startApiGateway, { minRoutes: 10 });

// The whole product: every module's routes (webhooks, admin, push ingest) under the same table.
badInputSuite(
  'every route of a full gateway: bad input',
  async () => {
    // A backend that never answers (a closed port): push ingest has a backend to accept for,
    // and the strategy's failed polls must not change anything stored either.
    const config = await testConfig({
      strategy: { name: 'cached-poll' },
      backends: [{ id: 'heat-1', kind: 'heat', endpoint: 'http://127.0.0.1:9/v1/t', token: 'x', retries: 0, timeoutMs: 200 }],
    });
    const gateway = new Gateway({ config, logger: silentLogger(), modules: defaultModules() });
    const url = await gateway.start();
    // Something registered, so webhook routes have stored state that must not change (for an
    // event type this suite never produces, so no delivery runs in the background).
    const created = await send(url, 'POST', '/v1/webhooks', { ...bearer(TOKENS.client), 'content-type': 'application/json' }, JSON.stringify({ url: 'http://127.0.0.1:9/hook', events: ['deployment.deleted'] }));
    expect(created.status, created.text).to.equal(201);
    return { gateway, url, known: { webhookId: (created.json as { id: string }).id } };
  },
  // Background work rewrites these on its own schedule: queues, due sets, the fan-out lease, the strategy record,
  // heartbeats, refresh outcomes.
  { minRoutes: 25, volatile: /^(bull:|due:|wh:lead|strategy|replica|refresh-failures)/ },
);
