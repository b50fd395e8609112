/**
 * Bad input over every declared route (table-driven from `gateway.api.declared`, so a new
 * route is covered without touching this file): each case must be a 4xx problem+json naming
 * the field, never a 5xx, and must leave every key under the test prefix unchanged.
 */
import { expect } from 'chai';
import type { Gateway } from '../../../src/gateway.js';
import { bearer, TOKENS } from '../../helpers/gateway.js';
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

/** Keys under the prefix with their DUMP, so any change (value, type, TTL-less rewrite) shows. */
async function snapshot(gateway: Gateway): Promise<Map<string, string>> {
  const prefix = gateway.config.redis.keyPrefix;
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await gateway.redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1_000);
    cursor = next;
    for (const key of keys) out.set(key, ((await gateway.redis.dumpBuffer(key)) ?? Buffer.alloc(0)).toString('base64'));
  } while (cursor !== '0');
  return out;
}

function casesFor(route: { method: string; path: string }, queryParams: { name: string; schema: any }[]): BadCase[] {
  const params = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
  const valid = (override: Record<string, string> = {}) => route.path.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => override[name] ?? 'srv-1');
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

describe('Conductor API: bad input over every route', () => {
  let gateway: Gateway;
  let url: string;

  before(async () => {
    ({ gateway, url } = await startApiGateway());
    await gateway.store.observeDeployment(deploymentObs({ id: 'srv-1' }), { source: 'cached-poll' });
    await gateway.store.observeInstances([instanceObs(), instanceObs({ id: 'srv-2' })], { source: 'cached-poll' });
    await gateway.feed.append('gateway.strategy_changed', { from: 'on-demand', to: 'cached-poll' });
  });
  after(() => gateway.stop());

  it('covers every declared route of the API router', () => {
    expect(gateway.api.declared.length).to.be.greaterThanOrEqual(10);
  });

  it('answers a 4xx problem naming the field, never a 5xx, and changes nothing stored', async function () {
    this.timeout(60_000);
    const doc = gateway.api.openapi({ title: 't', version: '0' }) as { paths: Record<string, Record<string, { parameters?: any[] }>> };
    const before = await snapshot(gateway);
    expect(before.size).to.be.greaterThan(5);
    const failures: string[] = [];
    let checked = 0;
    for (const route of gateway.api.declared) {
      const op = doc.paths[route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')]![route.method]!;
      const queryParams = (op.parameters ?? []).filter((p) => p.in === 'query');
      for (const c of casesFor(route, queryParams)) {
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
    const after = await snapshot(gateway);
    expect([...after.keys()].sort()).to.deep.equal([...before.keys()].sort());
    for (const [key, dump] of before) expect(after.get(key), key).to.equal(dump);
  });
});
