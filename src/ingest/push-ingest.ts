/**
 * Push ingest: `POST /v1/notifications/:backendId`. Authenticates the push (a bearer token
 * with role backend, the backend's own push token, or an HMAC of the raw body), parses the
 * real formats into hints, and hands them to the strategy in force without waiting: a push
 * is a hint, answered 202 at once.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { z } from 'zod';
import type { BackendConfig, Config } from '../config/schema.js';
import { AuthError, NotFoundError } from '../errors.js';
import type { GatewayModule } from '../gateway.js';
import type { ApiRouter } from '../http/api-router.js';
import type { Authenticator } from '../http/auth.js';
import type { Logger } from '../log/logger.js';
import type { PushHint } from '../strategy/strategy.js';
import { parsePush } from './push-parser.js';

/** The path a backend POSTs its pushes to. */
export function ingestPath(backendId: string): string {
  return `/v1/notifications/${encodeURIComponent(backendId)}`;
}

/** Who handles a push (the strategy runtime). */
export interface PushTarget {
  onPush(hints: PushHint[]): Promise<void>;
}

export interface PushIngestDeps {
  config: () => Config;
  auth: Authenticator;
  target: PushTarget;
  logger: Logger;
}

export class PushIngest implements GatewayModule {
  readonly name = 'push-ingest';
  /** Pushes being handled, so tests (and shutdown) can wait for them. */
  private readonly inflight = new Set<Promise<void>>();
  private readonly log: Logger;

  constructor(private readonly deps: PushIngestDeps) {
    this.log = deps.logger.child({ component: 'push-ingest' });
  }

  static fromConfig(config: Config, deps: Omit<PushIngestDeps, 'config'> & { config?: () => Config }): PushIngest {
    return new PushIngest({ ...deps, config: deps.config ?? (() => config) });
  }

  /** Resolves once every push accepted so far has been handled. */
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
      summary: 'Push ingest: Heat event-sink messages and oslo notifications',
      description:
        'Authenticated by a bearer token with role backend, the backend\'s push.token, or an HMAC-SHA256 (hex) of the raw body under push.signingSecret in push.signatureHeader. Each push is a hint: the gateway fetches what it names.',
      tag: 'ingest',
      auth: 'public',
      params: z.object({ backendId: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be a configured backend id') }),
      body: z.unknown().describe('a Zaqar-delivered os.heat.event message, or an oslo notification (flat or oslo.message envelope)'),
      responses: { 202: { description: 'accepted', schema: z.object({ accepted: z.literal(true), hints: z.number().int() }) } },
      handler: async ({ params, body, req, res }) => {
        const backend = this.deps.config().backends.find((b) => b.id === params.backendId);
        if (!backend) throw new NotFoundError(`no backend '${params.backendId}' is configured; pushes go to /v1/notifications/<backends[].id>`);
        this.authorize(req, backend);
        const hints = parsePush(backend.id, body);
        const handled: Promise<void> = this.deps.target
          .onPush(hints)
          .catch((err: Error) => {
            this.log.warn('push handling failed', { backend: backend.id, error: err.message });
          })
          .finally(() => this.inflight.delete(handled));
        this.inflight.add(handled);
        res.status(202).json({ accepted: true, hints: hints.length });
      },
    });
  }

  private authorize(req: Request, backend: BackendConfig): void {
    const principal = this.deps.auth.fromRequest(req);
    if (principal?.role === 'backend' || principal?.role === 'admin') return;
    const push = backend.push;
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (push?.token && bearer && safeEqual(bearer, push.token)) return;
    const signature = push?.signingSecret ? req.headers[push.signatureHeader.toLowerCase()] : undefined;
    const raw = (req as { rawBody?: Buffer }).rawBody;
    if (push?.signingSecret && typeof signature === 'string' && raw) {
      const expected = createHmac('sha256', push.signingSecret).update(raw).digest('hex');
      if (safeEqual(signature.trim().toLowerCase().replace(/^sha256=/, ''), expected)) return;
      throw new AuthError(`the ${push.signatureHeader} signature does not match the body`, 401);
    }
    throw new AuthError('send a bearer token with role backend, the backend\'s push token, or a signed body', 401);
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
