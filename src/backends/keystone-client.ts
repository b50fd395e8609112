/**
 * Keystone v3 password authentication for a Heat backend: one project-scoped token, shared
 * by every caller, renewed shortly before `expires_at`, and the orchestration endpoint
 * taken from the token's service catalog.
 */
import { z } from 'zod';
import { UpstreamError } from '../errors.js';
import type { HeatBackendConfig } from '../config/schema.js';
import { type BackendHttp, parseJsonBody, validateBody } from './backend-http.js';

export type KeystoneConfig = NonNullable<HeatBackendConfig['keystone']>;

/** What a Heat client needs to call Heat: a token and the orchestration endpoint. */
export interface HeatCredentials {
  token: string;
  /** Orchestration endpoint, `…/v1/<tenant_id>`, without a trailing slash. */
  endpoint: string;
  /** Epoch ms at which the token expires; `null` when unknown (fixed token). */
  expiresAtMs: number | null;
}

/** Source of Heat credentials; implemented by Keystone auth and by a fixed endpoint+token. */
export interface HeatAuth {
  /** Current credentials, authenticating first if needed. */
  credentials(): Promise<HeatCredentials>;
  /**
   * Heat rejected `token` (401). Returns fresh credentials, or throws an `auth`
   * UpstreamError when no fresh token can be had.
   */
  renew(rejectedToken: string): Promise<HeatCredentials>;
}

const endpointSchema = z.object({
  interface: z.string(),
  url: z.string().min(1),
  region: z.string().nullable().optional(),
  region_id: z.string().nullable().optional(),
});

/** The parts of the `POST /v3/auth/tokens` answer we rely on (Identity API v3). */
export const keystoneTokenResponseSchema = z.object({
  token: z.object({
    expires_at: z.string().min(1),
    project: z.object({ id: z.string(), name: z.string().optional() }).optional(),
    catalog: z
      .array(
        z.object({
          type: z.string(),
          name: z.string().optional(),
          endpoints: z.array(endpointSchema),
        }),
      )
      .default([]),
  }),
});
export type KeystoneTokenResponse = z.infer<typeof keystoneTokenResponseSchema>;

export interface KeystoneClientOptions {
  /** Renew this long before `expires_at`. @defaultValue 60000 */
  refreshMarginMs?: number;
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
  /** Catalog service type of Heat. @defaultValue orchestration */
  serviceType?: string;
}

/** The JSON body of a project-scoped password authentication. */
export function passwordAuthBody(cfg: KeystoneConfig): unknown {
  const project =
    cfg.projectId !== undefined
      ? { id: cfg.projectId }
      : { name: cfg.projectName, domain: { name: cfg.projectDomain } };
  return {
    auth: {
      identity: {
        methods: ['password'],
        // Keystone v3 names a user by id (unique on its own) or by name within a domain.
        password: {
          user: cfg.userId !== undefined
            ? { id: cfg.userId, password: cfg.password }
            : { name: cfg.username, domain: { name: cfg.userDomain }, password: cfg.password },
        },
      },
      scope: { project },
    },
  };
}

/** Picks the orchestration endpoint for an interface and (optionally) a region. */
export function pickEndpoint(
  catalog: KeystoneTokenResponse['token']['catalog'],
  opts: { serviceType: string; interface: string; region?: string | undefined },
): string | undefined {
  for (const service of catalog) {
    if (service.type !== opts.serviceType) continue;
    const match = service.endpoints.find(
      (e) =>
        e.interface === opts.interface &&
        (opts.region === undefined || e.region_id === opts.region || e.region === opts.region),
    );
    if (match) return match.url.replace(/\/+$/, '');
  }
  return undefined;
}

/** Keystone v3 password auth scoped to one project; implements {@link HeatAuth}. */
export class KeystoneClient implements HeatAuth {
  private current: HeatCredentials | undefined;
  private inflight: Promise<HeatCredentials> | undefined;
  private readonly refreshMarginMs: number;
  private readonly now: () => number;
  private readonly serviceType: string;

  constructor(
    private readonly cfg: KeystoneConfig,
    private readonly http: BackendHttp,
    options: KeystoneClientOptions = {},
  ) {
    this.refreshMarginMs = options.refreshMarginMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.serviceType = options.serviceType ?? 'orchestration';
  }

  async credentials(): Promise<HeatCredentials> {
    const c = this.current;
    if (c && c.expiresAtMs !== null && this.now() < c.expiresAtMs - this.refreshMarginMs) return c;
    return this.authenticate();
  }

  async renew(rejectedToken: string): Promise<HeatCredentials> {
    // Another caller may already have replaced the rejected token; reuse theirs.
    if (this.current && this.current.token !== rejectedToken) return this.credentials();
    if (this.current?.token === rejectedToken) this.current = undefined;
    return this.authenticate();
  }

  /** Forgets the token, so the next call authenticates again. */
  invalidate(): void {
    this.current = undefined;
  }

  /** Concurrent callers share one in-flight authentication, so a burst costs one POST. */
  private authenticate(): Promise<HeatCredentials> {
    this.inflight ??= this.doAuthenticate().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async doAuthenticate(): Promise<HeatCredentials> {
    const call = 'keystone.auth';
    const backend = this.http.backendId;
    const res = await this.http.request({
      call,
      method: 'POST',
      // Operators paste the identity URL with or without its /v3 suffix; accept both.
      url: `${this.cfg.url.replace(/\/+$/, '').replace(/\/v3$/, '')}/v3/auth/tokens`,
      headers: { accept: 'application/json' },
      json: passwordAuthBody(this.cfg),
    });
    const tokenHeader = res.headers['x-subject-token'];
    const token = Array.isArray(tokenHeader) ? tokenHeader[0] : tokenHeader;
    if (!token) {
      throw new UpstreamError(`${call}: Keystone answered without an X-Subject-Token header`, {
        backend,
        reason: 'schema',
        upstreamStatus: res.status,
      });
    }
    const doc = validateBody(keystoneTokenResponseSchema, parseJsonBody(res, backend, call), { backend, call, res });
    const expiresAtMs = Date.parse(doc.token.expires_at);
    if (Number.isNaN(expiresAtMs)) {
      throw new UpstreamError(`${call}: token.expires_at '${doc.token.expires_at}' is not a timestamp`, {
        backend,
        reason: 'schema',
        upstreamStatus: res.status,
      });
    }
    const endpoint = pickEndpoint(doc.token.catalog, {
      serviceType: this.serviceType,
      interface: this.cfg.interface,
      region: this.cfg.region,
    });
    if (!endpoint) {
      throw new UpstreamError(
        `${call}: the service catalog has no '${this.serviceType}' endpoint with interface '${this.cfg.interface}'` +
          `${this.cfg.region ? ` in region '${this.cfg.region}'` : ''}; check keystone.interface and keystone.region`,
        { backend, reason: 'schema', upstreamStatus: res.status },
      );
    }
    this.current = { token, endpoint, expiresAtMs };
    return this.current;
  }
}

/** A fixed endpoint and token from config: nothing to renew, so a 401 is final. */
export class StaticHeatAuth implements HeatAuth {
  private readonly creds: HeatCredentials;

  constructor(
    endpoint: string,
    token: string,
    private readonly backendId: string,
  ) {
    this.creds = { endpoint: endpoint.replace(/\/+$/, ''), token, expiresAtMs: null };
  }

  async credentials(): Promise<HeatCredentials> {
    return this.creds;
  }

  async renew(): Promise<HeatCredentials> {
    throw new UpstreamError(
      `backend ${this.backendId}: Heat rejected the configured token; replace 'token' or configure keystone credentials`,
      { backend: this.backendId, reason: 'auth', upstreamStatus: 401 },
    );
  }
}
