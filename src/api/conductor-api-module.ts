/**
 * The Conductor-facing API (DESIGN §5): cache reads through the active strategy, the change
 * feed (paged and as Server-Sent Events), `/metrics`, `/openapi.json` and `/docs`, and the
 * optional per-token rate limit on every authenticated route.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { GatewayModule, ModuleDeps } from '../gateway.js';
import { InputError } from '../errors.js';
import type { ApiRouter } from '../http/api-router.js';
import { documentHealthRoutes } from '../http/health.js';
import { CURSOR_PATTERN } from '../store/change-feed.js';
import type { ActiveStrategy } from './active-strategy.js';
import {
  deploymentInstancesQuery,
  deploymentListResponse,
  deploymentResponse,
  deploymentsQuery,
  eventsQuery,
  eventsResponse,
  idParams,
  instanceListResponse,
  instanceResponse,
  instancesQuery,
  streamQuery,
} from './api-schemas.js';
import { renderDocsPage } from './docs-page.js';
import { DEFAULT_EVENT_STREAM_OPTIONS, EventStreams, eventJson, type EventStreamOptions } from './event-streams.js';
import { FastReads } from './fast-reads.js';
import { RateLimiter } from './rate-limiter.js';
import { absent, ReadResponder } from './read-responder.js';

export interface ConductorApiOptions {
  /** Server-Sent Events tuning (heartbeat interval, stream cap, …). */
  events?: Partial<EventStreamOptions>;
}

const notModified = { description: 'Not modified: If-None-Match matched the ETag' };
const notFound = (what: string) => ({ description: `No ${what} with this id in the cache` });

/** The package version, for `/openapi.json` (found from src/ and from dist/src/ alike). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return String((JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? '0.0.0');
    dir = dirname(dir);
  }
  return '0.0.0';
}

/**
 * Creates the module. Wire it as `(deps) => createConductorApiModule(deps, strategies)`.
 * Mounts: `GET /v1/deployments`, `/v1/deployments/:id`, `/v1/deployments/:id/instances`,
 * `/v1/instances`, `/v1/instances/:id` (client), `GET /v1/events`, `/v1/events/stream`
 * (client), `GET /metrics` (admin), `GET /openapi.json` and `/docs` (public); documents
 * `/healthz` and `/readyz`.
 */
export function createConductorApiModule(deps: ModuleDeps, strategies: ActiveStrategy, options: ConductorApiOptions = {}): GatewayModule {
  const reads = new ReadResponder({ config: deps.config, logger: deps.logger, metrics: deps.metrics, now: deps.now }, strategies);
  // Reads have their own auto-pipelined connection (the store layer's `reads`).
  const store = deps.stores.reads;
  const feed = deps.stores.feed;
  const streams = new EventStreams({ feed, metrics: deps.metrics, logger: deps.logger }, { ...DEFAULT_EVENT_STREAM_OPTIONS, ...options.events });
  const limiter = new RateLimiter({ buckets: deps.stores.rateLimits, config: deps.config, metrics: deps.metrics, logger: deps.logger });
  const version = packageVersion();
  let openapiCache: string | undefined;
  let docsCache: string | undefined;

  // The two reads Conductor polls; express routes and the fast lane (fast-reads.ts) both run these.
  const readInstance = async (req: IncomingMessage, res: ServerResponse, id: string) => {
    const fresh = await reads.beforeRead({ kind: 'instance', id });
    const doc = await store.getInstanceForServe(id);
    if (!doc) throw absent(fresh, `no instance '${id}' in the cache; list them with GET /v1/instances`);
    reads.sendOne(req, res, 'instance', doc, fresh);
  };
  const listInstances = async (req: IncomingMessage, res: ServerResponse, query: z.output<typeof instancesQuery>) => {
    const fresh = await reads.beforeRead(query.deploymentId === undefined ? { kind: 'instances' } : { kind: 'instances', deploymentId: query.deploymentId });
    const { include, ...rest } = query;
    const page = await store.listInstancesForServe({ ...rest, includeDeleted: include === 'deleted' });
    reads.sendPage(req, res, 'instances', page, fresh, query.deploymentId);
  };
  const fast = new FastReads(
    { auth: deps.auth, config: deps.config, metrics: deps.metrics, logger: deps.logger },
    { instance: readInstance, instances: listInstances },
  );

  const openapi = (api: ApiRouter) =>
    api.openapi({
      title: 'heat-gateway',
      version,
      description:
        'Instance and deployment state of Heat-like orchestration backends for Aeolus Conductor, served from one Redis cache, ' +
        'with a change feed and signed webhooks. See docs/api.md.',
    });

  return {
    name: 'conductor-api',

    routes(api) {
      api.afterAuth(limiter.middleware());
      documentHealthRoutes(api);

      api.route({
        method: 'get', path: '/v1/instances/:id', tag: 'reads', auth: ['client'],
        summary: 'One instance',
        description: 'The ETag changes with the instance version only (not with observedAt refreshes).',
        params: idParams,
        responses: { 200: { description: 'The instance', schema: instanceResponse }, 304: notModified, 404: notFound('instance'), 503: { description: 'The strategy could not ask the backend and nothing is cached (on-demand); Retry-After' } },
        handler: ({ params, req, res }) => readInstance(req, res, params.id),
      });

      api.route({
        method: 'get', path: '/v1/instances', tag: 'reads', auth: ['client'],
        summary: 'Instances, in id order, paged',
        description: 'Vanished instances (tombstones, kept for feed.tombstoneTtlMs) are left out unless `state=vanished` or `include=deleted`.',
        query: instancesQuery,
        responses: { 200: { description: 'A page of instances', schema: instanceListResponse }, 304: notModified },
        handler: ({ query, req, res }) => listInstances(req, res, query),
      });

      api.route({
        method: 'get', path: '/v1/deployments', tag: 'reads', auth: ['client'],
        summary: 'Deployments (Heat stacks), in id order, paged',
        description: 'Deleted deployments (tombstones, kept for feed.tombstoneTtlMs) are left out unless `status=DELETE_COMPLETE` or `include=deleted`.',
        query: deploymentsQuery,
        responses: { 200: { description: 'A page of deployments', schema: deploymentListResponse }, 304: notModified },
        handler: async ({ query, req, res }) => {
          const fresh = await reads.beforeRead({ kind: 'deployments' });
          const { include, ...rest } = query;
          reads.sendPage(req, res, 'deployments', await store.listDeploymentsForServe({ ...rest, includeDeleted: include === 'deleted' }), fresh);
        },
      });

      api.route({
        method: 'get', path: '/v1/deployments/:id', tag: 'reads', auth: ['client'],
        summary: 'One deployment with its instanceIds',
        description: 'The ETag changes with the deployment version and with its instanceIds.',
        params: idParams,
        responses: { 200: { description: 'The deployment', schema: deploymentResponse }, 304: notModified, 404: notFound('deployment'), 503: { description: 'The strategy could not ask the backend and nothing is cached (on-demand); Retry-After' } },
        handler: async ({ params, req, res }) => {
          const fresh = await reads.beforeRead({ kind: 'deployment', id: params.id });
          const doc = await store.getDeploymentForServe(params.id);
          if (!doc) throw absent(fresh, `no deployment '${params.id}' in the cache; list them with GET /v1/deployments`);
          reads.sendOne(req, res, 'deployment', doc, fresh);
        },
      });

      api.route({
        method: 'get', path: '/v1/deployments/:id/instances', tag: 'reads', auth: ['client'],
        summary: 'Instances of one deployment, in id order, paged',
        params: idParams,
        query: deploymentInstancesQuery,
        responses: {
          200: { description: 'A page of instances', schema: instanceListResponse },
          304: notModified,
          404: notFound('deployment (and no instance of it)'),
          503: { description: 'The strategy could not ask the backend and nothing is cached (on-demand); Retry-After' },
        },
        handler: async ({ params, query, req, res }) => {
          const fresh = await reads.beforeRead({ kind: 'instances', deploymentId: params.id });
          const { include, ...rest } = query;
          const page = await store.listInstancesForServe({ ...rest, deploymentId: params.id, includeDeleted: include === 'deleted' });
          if (page.items.length === 0 && query.cursor === undefined && !(await store.deploymentKnown(params.id))) {
            throw absent(fresh, `no deployment '${params.id}' in the cache; list them with GET /v1/deployments`);
          }
          reads.sendPage(req, res, 'instances', page, fresh, params.id);
        },
      });

      api.route({
        method: 'get', path: '/v1/events', tag: 'events', auth: ['client'],
        summary: 'The change feed, paged by cursor',
        description:
          'Events after `after` in feed order. When retention removed events after `after`, the answer is still 200 with ' +
          '`gap: true` and the oldest events kept: reload state from the reads, then continue with `next`.',
        query: eventsQuery,
        responses: { 200: { description: 'Events and the cursor to continue from', schema: eventsResponse } },
        handler: async ({ query, res }) => {
          const page = await feed.read(query.after, query.limit);
          let events = '';
          for (const entry of page.entries) events += events === '' ? eventJson(entry) : `,${eventJson(entry)}`;
          res.setHeader('Content-Type', 'application/json; charset=utf-8');
          res.setHeader('Cache-Control', 'no-store');
          res.end(`{"events":[${events}],"next":${JSON.stringify(page.next)},"gap":${page.gap}}`);
        },
      });

      api.route({
        method: 'get', path: '/v1/events/stream', tag: 'events', auth: ['client'],
        summary: 'The change feed as Server-Sent Events',
        description:
          'Each event: `id:` (cursor), `event:` (type), `data:` (event JSON with `cursor`). Resume with the ' +
          '`Last-Event-ID` header (wins) or `?after=`; without either, only new events are sent. `: heartbeat` comment ' +
          'lines keep the connection alive. `event: resync` (no id) means events after the cursor were removed by ' +
          'retention: reload from the reads and keep applying what follows.',
        query: streamQuery,
        responses: {
          200: { description: 'An endless text/event-stream', contentType: 'text/event-stream', schema: z.string() },
          503: { description: 'The replica is stopping or serves its maximum of streams (Retry-After)' },
        },
        handler: async ({ query, req, res }) => {
          const header = req.headers['last-event-id'];
          let after = query.after;
          if (header !== undefined && header !== '') {
            if (typeof header !== 'string' || !CURSOR_PATTERN.test(header)) {
              throw new InputError('Last-Event-ID must be a feed cursor', [
                { path: 'headers.last-event-id', message: 'must be the id of an event received from this stream, or 0' },
              ]);
            }
            after = header;
          }
          await streams.serve(res, after);
        },
      });

      api.route({
        method: 'get', path: '/metrics', tag: 'admin', auth: ['admin'],
        summary: 'Prometheus metrics of this replica',
        responses: { 200: { description: 'Prometheus text exposition format', contentType: 'text/plain', schema: z.string() } },
        handler: async ({ res }) => {
          const text = await deps.metrics.registry.metrics();
          res.setHeader('Content-Type', deps.metrics.registry.contentType);
          res.end(text);
        },
      });

      api.route({
        method: 'get', path: '/openapi.json', tag: 'docs', auth: 'public',
        summary: 'This API as an OpenAPI 3.1 document',
        responses: { 200: { description: 'The OpenAPI document', schema: z.record(z.string(), z.unknown()) } },
        handler: ({ res }) => {
          // Routes are fixed once the server starts, so the document is built once.
          openapiCache ??= JSON.stringify(openapi(api));
          res.setHeader('Content-Type', 'application/json; charset=utf-8');
          res.end(openapiCache);
        },
      });

      api.route({
        method: 'get', path: '/docs', tag: 'docs', auth: 'public',
        summary: 'Human-readable API reference (HTML rendered from /openapi.json)',
        responses: { 200: { description: 'An HTML page', contentType: 'text/html', schema: z.string() } },
        handler: ({ res }) => {
          docsCache ??= renderDocsPage(openapi(api));
          res.setHeader('Content-Type', 'text/html; charset=utf-8');
          res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
          res.end(docsCache);
        },
      });
    },

    serveFast: (req, res) => fast.serve(req, res),

    async stop() {
      streams.closeAll();
    },
  };
}
