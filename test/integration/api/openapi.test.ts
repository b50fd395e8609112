import { expect } from 'chai';
import type { Router } from 'express';
import { Gateway } from '../../../src/gateway.js';
import { healthRouter } from '../../../src/http/health.js';
import { silentLogger } from '../../../src/log/logger.js';
import { defaultModules } from '../../../src/modules.js';
import { bearer, testConfig, TOKENS } from '../../helpers/gateway.js';
import { send, startApiGateway } from './api-test-helpers.js';
import { testRedis } from '../../helpers/redis.js';

type Json = Record<string, any>;
const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options', 'trace'];

/** Structural OpenAPI 3 checks; returns every violation found (empty = valid). */
function openApiProblems(doc: Json): string[] {
  const problems: string[] = [];
  if (typeof doc.openapi !== 'string' || !/^3\.\d+\.\d+$/.test(doc.openapi)) problems.push('openapi must be a 3.x.y version string');
  if (typeof doc.info?.title !== 'string' || typeof doc.info?.version !== 'string') problems.push('info.title and info.version are required strings');
  if (!doc.paths || typeof doc.paths !== 'object') problems.push('paths is required');
  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries<Json>(doc.paths ?? {})) {
    if (!path.startsWith('/')) problems.push(`path ${path} must start with /`);
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    for (const method of Object.keys(item)) {
      if (!METHODS.includes(method) && method !== 'parameters') problems.push(`${path}: unknown key ${method}`);
    }
    for (const method of METHODS.filter((m) => item[m])) {
      const op = item[method] as Json;
      const where = `${method.toUpperCase()} ${path}`;
      if (!op.responses || Object.keys(op.responses).length === 0) problems.push(`${where}: no responses`);
      for (const [status, response] of Object.entries<Json>(op.responses ?? {})) {
        if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(status)) problems.push(`${where}: bad status ${status}`);
        if (typeof response.description !== 'string') problems.push(`${where} ${status}: description is required`);
      }
      if (op.operationId !== undefined) {
        if (operationIds.has(op.operationId)) problems.push(`${where}: duplicate operationId ${op.operationId}`);
        operationIds.add(op.operationId);
      }
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])] as Json[];
      for (const p of params) {
        if (typeof p.name !== 'string' || !['path', 'query', 'header', 'cookie'].includes(p.in)) problems.push(`${where}: bad parameter ${JSON.stringify(p)}`);
        if (p.in === 'path' && p.required !== true) problems.push(`${where}: path parameter ${p.name} must be required`);
        if (p.in === 'path' && !templated.includes(p.name)) problems.push(`${where}: path parameter ${p.name} is not in the path`);
        if (!p.schema && !p.content) problems.push(`${where}: parameter ${p.name} has no schema`);
      }
      for (const name of templated) {
        if (!params.some((p) => p.in === 'path' && p.name === name)) problems.push(`${where}: {${name}} is not declared as a path parameter`);
      }
      for (const s of op.security ?? doc.security ?? []) {
        for (const scheme of Object.keys(s)) if (!doc.components?.securitySchemes?.[scheme]) problems.push(`${where}: unknown security scheme ${scheme}`);
      }
    }
  }
  // Every $ref resolves inside the document.
  const resolve = (ref: string) => {
    if (!ref.startsWith('#/')) return undefined;
    let node: any = doc;
    for (const part of ref.slice(2).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))) {
      if (node === null || typeof node !== 'object' || !(part in node)) return undefined;
      node = node[part];
    }
    return node;
  };
  const walk = (node: unknown, at: string) => {
    if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${at}/${i}`));
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === '$ref' && (typeof v !== 'string' || resolve(v) === undefined)) problems.push(`${at}: $ref ${String(v)} does not resolve`);
        walk(v, `${at}/${k}`);
      }
    }
  };
  walk(doc, '#');
  return problems;
}

/** [METHOD, OpenAPI path] of every operation a document lists. */
function documentedRoutes(doc: Json): string[] {
  return Object.entries<Json>(doc.paths)
    .flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
}

/** [METHOD, OpenAPI path] of every route a gateway mounts (its API router and the health router). */
function mountedRoutes(gateway: Gateway): string[] {
  return [...mounted(gateway.api.router()), ...mounted(healthRouter(() => []))].sort();
}

/** [METHOD, OpenAPI path] of every route an express router mounts. */
function mounted(router: Router): string[] {
  const out: string[] = [];
  for (const layer of router.stack as { route?: { path: string; methods: Record<string, boolean> } }[]) {
    if (!layer.route) continue;
    for (const method of Object.keys(layer.route.methods)) {
      if (method === '_all') continue;
      out.push(`${method.toUpperCase()} ${layer.route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    }
  }
  return out;
}

describe('Conductor API: /openapi.json, /docs, /metrics', () => {
  let gateway: Gateway;
  let url: string;

  before(async () => {
    ({ gateway, url } = await startApiGateway());
  });
  after(() => gateway.stop());

  it('the structural validator catches what it claims to', () => {
    const broken = {
      openapi: '3.1.0',
      info: { title: 'x', version: '1' },
      paths: { '/a/{id}': { get: { responses: {}, parameters: [{ $ref: '#/components/parameters/missing' }] } } },
    };
    const problems = openApiProblems(broken);
    expect(problems.join('\n')).to.match(/no responses/).and.match(/\{id\} is not declared/).and.match(/does not resolve/);
  });

  it('is public, and a valid OpenAPI 3 document', async () => {
    const res = await send(url, 'GET', '/openapi.json');
    expect(res.status).to.equal(200);
    expect(res.json.openapi).to.equal('3.1.0');
    expect(openApiProblems(res.json)).to.deep.equal([]);
  });

  it('lists every route the app mounts (API router and health router), and nothing else', async () => {
    const routes = mountedRoutes(gateway);
    expect(documentedRoutes((await send(url, 'GET', '/openapi.json')).json)).to.deep.equal(routes);
    expect(routes).to.include.members([
      'GET /v1/instances/{id}', 'GET /v1/instances', 'GET /v1/deployments', 'GET /v1/deployments/{id}',
      'GET /v1/deployments/{id}/instances', 'GET /v1/events', 'GET /v1/events/stream', 'GET /metrics',
      'GET /openapi.json', 'GET /docs', 'GET /healthz', 'GET /readyz',
    ]);
    expect(gateway.api.documented.length).to.equal(routes.length);
  });

  it('documents roles, parameters and response schemas', async () => {
    const doc = (await send(url, 'GET', '/openapi.json')).json;
    const list = doc.paths['/v1/instances'].get;
    expect(list['x-roles']).to.deep.equal(['client']);
    expect(list.parameters.map((p: Json) => p.name).sort()).to.deep.equal(['cursor', 'deploymentId', 'include', 'limit', 'state']);
    expect(list.parameters.find((p: Json) => p.name === 'include').schema.enum).to.deep.equal(['deleted']);
    expect(doc.paths['/v1/deployments'].get.parameters.map((p: Json) => p.name).sort()).to.deep.equal(['cursor', 'include', 'limit', 'status']);
    expect(list.parameters.find((p: Json) => p.name === 'state').schema.enum).to.include('create_failed');
    expect(list.responses['200'].content['application/json'].schema.properties).to.have.keys('data', 'meta', 'next');
    expect(doc.paths['/v1/instances/{id}'].get.responses).to.include.keys('200', '304', '404', '401', '403');
    expect(doc.paths['/healthz'].get.security).to.deep.equal([]);
    expect(doc.paths['/metrics'].get['x-roles']).to.deep.equal(['admin']);
  });

  it('/docs is a self-contained HTML page listing every operation', async () => {
    const res = await send(url, 'GET', '/docs');
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/^text\/html/);
    expect(res.text).to.not.match(/<script|https?:\/\/(?!heat-gateway\.dev)[^"'\s]*\.(js|css)/i);
    for (const path of ['/v1/instances/{id}', '/v1/events/stream', '/healthz', '/readyz', '/metrics']) {
      expect(res.text).to.contain(`<code>${path}</code>`);
    }
  });

  it('/metrics is Prometheus text for admins only', async () => {
    expect((await send(url, 'GET', '/metrics')).status).to.equal(401);
    expect((await send(url, 'GET', '/metrics', bearer(TOKENS.client))).status).to.equal(403);
    const res = await send(url, 'GET', '/metrics', bearer(TOKENS.admin));
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
    expect(res.text).to.contain('# TYPE hgw_http_request_duration_seconds histogram');
    expect(res.text).to.contain('hgw_cache_oldest_observation_age_seconds');
  });
});

describe('Conductor API: per-token rate limit', () => {
  it('answers 429 with Retry-After once the burst is spent, per token, shared across replicas', async () => {
    const config = await testConfig({ auth: { ...(await testConfig()).auth, rateLimit: { perSecond: 0.01, burst: 3 } } });
    const a = await startApiGateway({ config });
    const b = await startApiGateway({ config }); // a second replica on the same prefix
    try {
      const statuses: number[] = [];
      for (const target of [a.url, b.url, a.url]) statuses.push((await send(target, 'GET', '/v1/instances', bearer(TOKENS.client))).status);
      expect(statuses).to.deep.equal([200, 200, 200]);
      const limited = await send(b.url, 'GET', '/v1/instances', bearer(TOKENS.client));
      expect(limited.status).to.equal(429);
      expect(limited.headers['content-type']).to.match(/^application\/problem\+json/);
      expect(Number(limited.headers['retry-after'])).to.be.greaterThan(1);
      expect(limited.json.detail).to.contain("token 'test-client'");
      // Another token has its own bucket; public routes are not limited.
      expect((await send(a.url, 'GET', '/v1/instances', bearer(TOKENS.admin))).status).to.equal(200);
      expect((await send(a.url, 'GET', '/openapi.json')).status).to.equal(200);
      const metrics = await a.gateway.metrics.rateLimited.get();
      expect(metrics.values.length + (await b.gateway.metrics.rateLimited.get()).values.length).to.equal(1);
    } finally {
      await a.gateway.stop();
      await b.gateway.stop();
    }
  });

  it('is off without auth.rateLimit', async () => {
    const { gateway, url } = await startApiGateway();
    try {
      for (let i = 0; i < 20; i++) expect((await send(url, 'GET', '/v1/instances', bearer(TOKENS.client))).status).to.equal(200);
      expect(await testRedis(gateway.config.redis.url).keys(`${gateway.config.redis.keyPrefix}rl:*`)).to.deep.equal([]);
    } finally {
      await gateway.stop();
    }
  });
});

describe('the full gateway: /openapi.json covers every module', () => {
  it('is valid and lists exactly the routes every default module mounts', async () => {
    const gateway = new Gateway({ config: await testConfig(), logger: silentLogger(), modules: defaultModules() });
    const url = await gateway.start();
    try {
      const doc = (await send(url, 'GET', '/openapi.json')).json;
      expect(openApiProblems(doc)).to.deep.equal([]);
      const routes = mountedRoutes(gateway);
      expect(documentedRoutes(doc)).to.deep.equal(routes);
      expect(routes).to.include.members([
        'POST /v1/webhooks', 'GET /v1/webhooks', 'PATCH /v1/webhooks/{id}', 'POST /v1/webhooks/{id}/rotate-secret',
        'POST /v1/webhooks/{id}/replay', 'GET /admin/strategy', 'PUT /admin/strategy', 'GET /admin/status',
        'POST /v1/notifications/{backendId}', 'GET /v1/instances/{id}', 'GET /v1/events/stream',
      ]);
    } finally {
      await gateway.stop();
    }
  });
});
