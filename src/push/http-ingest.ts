/**
 * Push over HTTP: `POST /v1/notifications/:backendId`. Authenticates the push (a bearer token
 * with role backend, the backend's own push token — as a header, or `?token=` for Aodh — or an
 * HMAC of the raw body), parses the real formats, and hands them to the strategy of the
 * backend that sent them. Under a strategy that trusts pushes what a notification says is
 * stored before the 202; anything else is a hint handled in the background.
 */
import { z } from 'zod';
import type { Config } from '../config/schema.js';
import { NotFoundError, UnavailableError } from '../errors.js';
import type { GatewayModule } from '../gateway.js';
import type { ApiRouter } from '../http/api-router.js';
import type { Authenticator } from '../http/auth.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { StateStore } from '../store/state-store.js';
import { parsePushBody } from './notification-parsers.js';
import { authorizePush } from './push-auth.js';
import { createPushApplier, type PushRouter } from './push-ingest.js';

/** The path a backend POSTs its pushes to. */
export function ingestPath(backendId: string): string {
  return `/v1/notifications/${encodeURIComponent(backendId)}`;
}

export interface PushIngestDeps {
  config: () => Config;
  auth: Authenticator;
  router: PushRouter;
  store: StateStore;
  metrics: Metrics;
  logger: Logger;
  now: () => number;
}

export class PushIngest implements GatewayModule {
  readonly name = 'push-ingest';
  /** Work pushes started in the background (fetches), so tests and shutdown can wait for it. */
  private readonly inflight = new Set<Promise<void>>();
  private readonly apply: ReturnType<typeof createPushApplier>;

  constructor(private readonly deps: PushIngestDeps) {
    this.apply = createPushApplier(deps, deps.router, {
      awaitFetches: false,
      background: (work) => {
        this.inflight.add(work);
        void work.finally(() => this.inflight.delete(work));
      },
    });
  }

  static fromConfig(config: Config, deps: Omit<PushIngestDeps, 'config'> & { config?: () => Config }): PushIngest {
    return new PushIngest({ ...deps, config: deps.config ?? (() => config) });
  }

  /** Resolves once every push accepted so far has been handled, background work included. */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  async stop(): Promise<void> {
    await this.idle();
  }

  routes(api: ApiRouter): void {
    api.route({
      method: 'post',
      path: '/v1/notifications/:backendId',
      summary: 'Push ingest: oslo notifications, Aodh event alarms, Heat event-sink messages',
      description:
        'Authenticated by a bearer token with role backend, the backend\'s push.token (header, or ?token= for Aodh, which sends no headers), or an HMAC-SHA256 (hex) of the raw body under push.signingSecret in push.signatureHeader. Under a strategy that trusts pushes (webhook) a notification that carries a state is stored before the 202; the gateway fetches only what a push cannot say.',
      tag: 'ingest',
      auth: 'public',
      params: z.object({ backendId: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be a configured backend id') }),
      query: z
        .object({
          token: z
            .string()
            .regex(/^[A-Za-z0-9._~+/=-]{1,1024}$/, 'must be a token of letters, digits and -._~+/= (push.token or a backend-role token)')
            .optional()
            .describe('push.token (or a backend-role token) for senders that cannot set headers, e.g. Aodh'),
        })
        .strict(),
      body: z.unknown().describe('an oslo notification (flat or oslo.message envelope), an Aodh event-alarm body, a Zaqar-delivered os.heat.event message, or a list'),
      responses: { 202: { description: 'accepted', schema: z.object({ accepted: z.literal(true), hints: z.number().int() }) } },
      handler: async ({ params, query, body, req, res }) => {
        const backend = this.deps.config().backends.find((b) => b.id === params.backendId);
        if (!backend) throw new NotFoundError(`no backend '${params.backendId}' is configured; pushes go to /v1/notifications/<backends[].id>`);
        authorizePush(this.deps.auth, req, backend, query.token);
        const updates = parsePushBody(backend.id, body);
        // The parsed body (a list of 500 is ~1.5 MB of objects) and its bytes are not needed
        // past here: released now, not after the Redis round trips, so the GC's scavenges
        // under load do not copy every request in flight.
        req.body = undefined;
        (req as { rawBody?: Buffer }).rawBody = undefined;
        // What the push says is stored before the 202, so a backend that gets a 503 retries.
        await this.apply(updates).catch((err: Error) => {
          throw new UnavailableError('the push could not be stored now; send it again', { cause: err, retryAfterSeconds: 1 });
        });
        res.status(202).json({ accepted: true, hints: updates.length });
      },
    });
  }
}
