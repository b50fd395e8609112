/**
 * The operator's status page (DESIGN §10): `GET /` and `/status` (the sign-in page, or the
 * whole page for a request carrying a token), `/status/view` (the dashboard fragment),
 * `/status/snapshot` (the same as JSON), `/status/stream` (live updates, SSE) and the page's
 * two local assets. It also runs this replica's heartbeat, so the page can list the
 * replicas alive and add their backend activity up.
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { packageVersion } from '../api/conductor-api-module.js';
import { AuthError, GatewayError, UnavailableError } from '../errors.js';
import type { GatewayModule, ModuleDeps } from '../gateway.js';
import type { ApiRouter } from '../http/api-router.js';
import type { Principal } from '../http/auth.js';
import type { ReplicaRegistry } from '../store/replica-registry.js';
import { ReplicaHeartbeat } from './replica-heartbeat.js';
import { STATUS_JS } from './status-client.js';
import { StatusCollector } from './status-collector.js';
import { PAGE_HEADERS, renderDashboard, renderDashboardPage, renderSignInPage } from './status-page.js';
import { statusSnapshotSchema } from './status-schema.js';
import type { StatusSources } from './status-sources.js';
import { DEFAULT_STATUS_STREAM_OPTIONS, StatusStreams, withViewer, type StatusStreamOptions } from './status-streams.js';
import { STATUS_CSS } from './status-style.js';
import { REPLICA_ALIVE_MS } from '../store/replica-registry.js';

export interface StatusModuleOptions {
  /** Heartbeat interval of this replica. @defaultValue 2000 */
  beatMs?: number;
  /** A replica is shown alive while its last beat is younger than this. @defaultValue 10000 */
  aliveMs?: number;
  stream?: Partial<StatusStreamOptions>;
}

export interface StatusModule extends GatewayModule {
  readonly collector: StatusCollector;
  readonly heartbeat: ReplicaHeartbeat;
  readonly replicas: ReplicaRegistry;
}

const TAG = 'status';
const html = { contentType: 'text/html', schema: z.string() };

export function createStatusModule(deps: ModuleDeps, sources: StatusSources, options: StatusModuleOptions = {}): StatusModule {
  const version = packageVersion();
  const gateway = { auth: deps.auth, logger: deps.logger, metrics: deps.metrics, now: deps.now };
  const replicas = deps.stores.replicas(options.aliveMs ?? REPLICA_ALIVE_MS);
  const heartbeat = new ReplicaHeartbeat({
    registry: replicas,
    metrics: gateway.metrics,
    logger: gateway.logger,
    version,
    strategy: () => sources.running(),
    now: gateway.now,
    ...(options.beatMs !== undefined ? { beatMs: options.beatMs } : {}),
  });
  const collector = new StatusCollector(
    { config: deps.config, store: deps.stores.cache, feed: deps.stores.feed, cacheAges: deps.stores.cacheAges(), logger: deps.logger, now: deps.now },
    sources,
    replicas,
    heartbeat.id,
    version,
  );
  const streams = new StatusStreams(
    { snapshot: () => collector.snapshot(), auth: gateway.auth, logger: gateway.logger, now: gateway.now },
    { ...DEFAULT_STATUS_STREAM_OPTIONS, ...options.stream },
  );
  let sampler: NodeJS.Timeout | undefined;
  const signInPage = renderSignInPage(version);

  /** The figures for one viewer; Redis away is a 503 with Retry-After, not a 500. */
  const snapshotFor = async (principal: Principal) => {
    try {
      return withViewer(await collector.snapshot(), principal);
    } catch (err) {
      if (err instanceof GatewayError) throw err;
      throw new UnavailableError(`the status figures cannot be read from Redis: ${(err as Error).message}`, { retryAfterSeconds: 5, cause: err });
    }
  };

  /** `/` and `/status`: no Authorization header → the sign-in page; a valid one → the page with data. */
  const page = async (req: Request, res: Response) => {
    res.set(PAGE_HEADERS);
    if (req.headers.authorization === undefined) {
      res.end(signInPage);
      return;
    }
    const principal = gateway.auth.fromRequest(req);
    if (!principal) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="heat-gateway"');
      throw new AuthError('the bearer token is not valid; send an admin or client token, or none for the sign-in page', 401);
    }
    if (principal.role === 'backend') throw new AuthError("role 'backend' may not view the status page; it needs client or admin", 403);
    res.end(renderDashboardPage(await snapshotFor(principal), gateway.now()));
  };

  const asset = (path: string, contentType: string, body: string) => ({
    method: 'get' as const, path, tag: TAG, auth: 'public' as const,
    summary: `The status page's ${contentType === 'text/css' ? 'stylesheet' : 'script'} (served locally, no CDN)`,
    responses: { 200: { description: 'The asset', contentType, schema: z.string() } },
    handler: ({ res }: { res: Response }) => {
      res.set({ 'Content-Type': `${contentType}; charset=utf-8`, 'Cache-Control': 'public, max-age=300', 'X-Content-Type-Options': 'nosniff' });
      res.end(body);
    },
  });

  return {
    name: 'status',
    collector,
    heartbeat,
    replicas,

    routes(api: ApiRouter) {
      for (const path of ['/', '/status']) {
        api.route({
          method: 'get', path, tag: TAG, auth: 'public',
          summary: 'The status page (HTML)',
          description:
            'Without an Authorization header: the sign-in page (no data). With a valid client or admin bearer token: the whole page rendered ' +
            'on the server (readable without JavaScript); admins also get the controls.',
          responses: { 200: { description: 'An HTML page', ...html }, 401: { description: 'The bearer token is not valid' }, 403: { description: 'A backend token' } },
          handler: ({ req, res }) => page(req, res),
        });
      }
      api.route({
        method: 'get', path: '/status/view', tag: TAG, auth: ['client'],
        summary: 'The status dashboard as an HTML fragment (what the page loads after sign-in)',
        responses: { 200: { description: 'An HTML fragment', ...html } },
        handler: async ({ principal, res }) => {
          res.set(PAGE_HEADERS);
          res.end(renderDashboard(await snapshotFor(principal!), gateway.now()));
        },
      });
      api.route({
        method: 'get', path: '/status/snapshot', tag: TAG, auth: ['client'],
        summary: 'Everything the status page shows, as JSON',
        responses: { 200: { description: 'The status snapshot', schema: statusSnapshotSchema } },
        handler: async ({ principal, res }) => {
          res.setHeader('Cache-Control', 'no-store');
          res.json(await snapshotFor(principal!));
        },
      });
      api.route({
        method: 'get', path: '/status/stream', tag: TAG, auth: ['client'],
        summary: 'Live status updates as Server-Sent Events (at most one per second)',
        description:
          'Each `event: sections` carries `{generatedAt, sections: {<section id>: <html>}}` with only the sections whose HTML changed; ' +
          'the first one carries every section. `: heartbeat` comment lines keep quiet streams open.',
        responses: {
          200: { description: 'An endless text/event-stream', contentType: 'text/event-stream', schema: z.string() },
          503: { description: 'The replica is stopping or serves its maximum of status streams (Retry-After)' },
        },
        handler: ({ req, res, principal }) => streams.serve(req, res, principal!),
      });
      api.route(asset('/status/assets/status.css', 'text/css', STATUS_CSS));
      api.route(asset('/status/assets/status.js', 'text/javascript', STATUS_JS));
    },

    async start() {
      heartbeat.start();
      // Feed and backend-rate samples, so rates and sparklines are ready when a page opens.
      sampler = setInterval(() => {
        collector.sample().catch((err: Error) => gateway.logger.debug('status sample skipped', { error: err.message }));
      }, 2_000);
      sampler.unref();
    },

    async stop() {
      clearInterval(sampler);
      streams.closeAll();
      await heartbeat.stop();
    },
  };
}
