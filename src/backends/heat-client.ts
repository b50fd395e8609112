/**
 * Heat orchestration API v1 client (stacks, resources, events) and the mappers from Heat's
 * documents to the canonical model of DESIGN §3.
 *
 * Stack identity: Heat addresses a stack as `{stack_name}/{stack_id}`; every method takes a
 * {@link StackRef} `{name, id}` (or the string `name/id`). A bare name or id also works —
 * Heat then answers with a 302 to the full path, which costs a round trip.
 */
import { z } from 'zod';
import { UpstreamError } from '../errors.js';
import type { HeatBackendConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { InstanceObservation } from '../model/types.js';
import {
  BackendHttp,
  type BackendObserver,
  type BackendResponse,
  parseJsonBody,
  toIsoUtc,
  validateBody,
} from './backend-http.js';
import { toInstanceObservation } from './heat-mapping.js';
import {
  eventListSchema,
  heatErrorSchema,
  resourceListSchema,
  stackListSchema,
  stackShowSchema,
  type HeatEvent,
  type HeatResource,
  type HeatStack,
} from './heat-schemas.js';
import { type HeatAuth, type HeatCredentials, KeystoneClient, StaticHeatAuth } from './keystone-client.js';

export * from './heat-mapping.js';
export * from './heat-schemas.js';

// ---------------------------------------------------------------------------------------

/** A Heat stack as `{stack_name}/{stack_id}`. */
export interface StackRef {
  name: string;
  id: string;
}

/** Accepts `{name, id}`, `'name/id'`, or a bare name or id (resolved by Heat's redirect). */
export type StackIdentity = StackRef | string;

export function stackPath(stack: StackIdentity): string {
  if (typeof stack === 'string') return stack.split('/').map(encodeURIComponent).join('/');
  return `${encodeURIComponent(stack.name)}/${encodeURIComponent(stack.id)}`;
}

/** The id part of a stack identity (the last path segment), used as the deployment id. */
export function stackIdOf(stack: StackIdentity): string {
  if (typeof stack !== 'string') return stack.id;
  const parts = stack.split('/');
  return parts[parts.length - 1]!;
}

export interface ListResourcesOptions {
  /** How deep to descend into nested stacks. @defaultValue the backend's `nestedDepth` */
  nestedDepth?: number;
  /** Ask Heat for resource attributes (needed for live server status). @defaultValue false */
  withDetail?: boolean;
}

export interface ListEventsOptions {
  /** Id of the last event already seen; Heat returns events after it. */
  marker?: string;
  /**
   * `event_time` of the marker event. Real Heat silently ignores a marker it no longer
   * has (purged events) and starts from the beginning; with this time the client notices
   * events on the wrong side of the marker and fails with `marker_unknown` instead.
   */
  markerTime?: string;
  limit?: number;
  /** @defaultValue asc */
  sortDir?: 'asc' | 'desc';
}

export interface HeatClientOptions {
  logger: Logger;
  observer?: BackendObserver;
  /** Passed to the HTTP layer (tests use a tiny value). */
  retryBaseDelayMs?: number;
  random?: () => number;
  /** Keystone token refresh margin. @defaultValue 60000 */
  refreshMarginMs?: number;
  now?: () => number;
  /** Stack-list page size. @defaultValue 100 */
  pageSize?: number;
}

/** Upper bound on pages of one listing, against a backend whose pagination never ends. */
const MAX_PAGES = 10_000;

/** Client of one Heat backend. */
export class HeatClient {
  readonly kind = 'heat' as const;
  readonly id: string;
  readonly http: BackendHttp;
  readonly auth: HeatAuth;
  private readonly serverTypes: ReadonlySet<string>;
  private readonly nestedDepth: number;
  private readonly pageSize: number;

  constructor(
    readonly config: HeatBackendConfig,
    options: HeatClientOptions,
  ) {
    this.id = config.id;
    this.http = BackendHttp.forBackend(config, options);
    if (config.keystone) {
      this.auth = new KeystoneClient(config.keystone, this.http, {
        ...(options.refreshMarginMs !== undefined ? { refreshMarginMs: options.refreshMarginMs } : {}),
        ...(options.now ? { now: options.now } : {}),
      });
    } else if (config.endpoint && config.token) {
      this.auth = new StaticHeatAuth(config.endpoint, config.token, config.id);
    } else {
      throw new Error(`backends.${config.id}: a heat backend needs keystone credentials, or both endpoint and token`);
    }
    this.serverTypes = new Set(config.serverResourceTypes);
    this.nestedDepth = config.nestedDepth;
    this.pageSize = options.pageSize ?? 100;
  }

  /** All stacks of the project, following `limit`/`marker` pages until exhausted. */
  async listStacks(): Promise<HeatStack[]> {
    const stacks: HeatStack[] = [];
    const seenMarkers = new Set<string>();
    let marker: string | undefined;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const doc = await this.getJson('heat.listStacks', '/stacks', stackListSchema, {
        limit: this.pageSize,
        marker,
      });
      stacks.push(...doc.stacks);
      const next = nextMarker(doc.links, doc.stacks, this.pageSize);
      if (next === undefined) return stacks;
      if (seenMarkers.has(next)) {
        throw new UpstreamError(`heat.listStacks: pagination of backend ${this.id} repeats marker ${next}`, {
          backend: this.id,
          reason: 'schema',
        });
      }
      seenMarkers.add(next);
      marker = next;
    }
    throw new UpstreamError(`heat.listStacks: more than ${MAX_PAGES} pages from backend ${this.id}`, {
      backend: this.id,
      reason: 'schema',
    });
  }

  /** One stack with status, reason and outputs; `null` when Heat says it does not exist. */
  async getStack(stack: StackIdentity): Promise<HeatStack | null> {
    try {
      const doc = await this.getJson('heat.getStack', `/stacks/${stackPath(stack)}`, stackShowSchema);
      return doc.stack;
    } catch (err) {
      if (isHeatNotFound(err)) return null;
      throw err;
    }
  }

  /** Resources of a stack, including nested stacks down to `nestedDepth`. */
  async listResources(stack: StackIdentity, options: ListResourcesOptions = {}): Promise<HeatResource[]> {
    const doc = await this.getJson('heat.listResources', `/stacks/${stackPath(stack)}/resources`, resourceListSchema, {
      nested_depth: options.nestedDepth ?? this.nestedDepth,
      with_detail: options.withDetail ? 'true' : undefined,
    });
    return doc.resources;
  }

  /**
   * Events of a stack after `marker`. A marker Heat no longer knows fails with reason
   * `marker_unknown`: the caller should resync from a full listing.
   */
  async listEvents(stack: StackIdentity, options: ListEventsOptions = {}): Promise<HeatEvent[]> {
    const sortDir = options.sortDir ?? 'asc';
    let doc: z.infer<typeof eventListSchema>;
    try {
      doc = await this.getJson('heat.listEvents', `/stacks/${stackPath(stack)}/events`, eventListSchema, {
        marker: options.marker,
        limit: options.limit,
        sort_dir: sortDir,
      });
    } catch (err) {
      // Heat-likes that check markers answer 400/404 naming it; real Heat ignores it (below).
      if (
        options.marker &&
        err instanceof UpstreamError &&
        (err.upstreamStatus === 400 || err.upstreamStatus === 404) &&
        /marker/i.test(`${err.message} ${err.snippet ?? ''}`)
      ) {
        throw markerUnknown(this.id, options.marker, err);
      }
      throw err;
    }
    if (options.marker) {
      const markerMs = options.markerTime ? Date.parse(toIsoUtc(options.markerTime) ?? '') : NaN;
      const ignored = doc.events.some((e) => {
        if (e.id === options.marker) return true;
        if (Number.isNaN(markerMs)) return false;
        const t = Date.parse(toIsoUtc(e.event_time) ?? '');
        if (Number.isNaN(t)) return false;
        return sortDir === 'asc' ? t < markerMs : t > markerMs;
      });
      if (ignored) throw markerUnknown(this.id, options.marker);
    }
    return doc.events;
  }

  /** Server instances of a stack (nested stacks included) in one resource-list call. */
  async listServers(stack: StackIdentity): Promise<InstanceObservation[]> {
    const resources = await this.listResources(stack, { withDetail: true, nestedDepth: this.nestedDepth });
    const deploymentId = stackIdOf(stack);
    return resources
      .map((r) => toInstanceObservation(r, { deploymentId, backendId: this.id, serverResourceTypes: this.serverTypes }))
      .filter((i): i is InstanceObservation => i !== null);
  }

  /** Readiness: authenticates (if needed) and lists one stack. */
  async ping(): Promise<void> {
    await this.getJson('heat.ping', '/stacks', stackListSchema, { limit: 1 });
  }

  /** GET a JSON document from Heat, re-authenticating exactly once on a 401. */
  private async getJson<T>(
    call: string,
    path: string,
    schema: z.ZodType<T>,
    searchParams?: Record<string, string | number | boolean | undefined>,
  ): Promise<T> {
    const send = async (creds: HeatCredentials): Promise<BackendResponse> =>
      this.http.request({
        call,
        method: 'GET',
        url: `${creds.endpoint}${path}`,
        headers: { 'x-auth-token': creds.token, accept: 'application/json' },
        ...(searchParams ? { searchParams } : {}),
      });
    const creds = await this.auth.credentials();
    let res: BackendResponse;
    try {
      res = await send(creds);
    } catch (err) {
      if (!(err instanceof UpstreamError) || err.upstreamStatus !== 401) throw err;
      // The token was revoked or expired early: one fresh token, one more try, never a loop.
      const fresh = await this.auth.renew(creds.token);
      res = await send(fresh);
    }
    return validateBody(schema, parseJsonBody(res, this.id, call), { backend: this.id, call, res });
  }
}

function markerUnknown(backend: string, marker: string, cause?: unknown): UpstreamError {
  const base = cause instanceof UpstreamError ? cause : undefined;
  return new UpstreamError(
    `heat.listEvents: backend ${backend} no longer knows event marker ${marker}; resync from a full listing`,
    {
      backend,
      reason: 'marker_unknown',
      ...(base?.upstreamStatus !== undefined ? { upstreamStatus: base.upstreamStatus } : {}),
      ...(base?.snippet !== undefined ? { body: base.snippet } : {}),
    },
    cause ? { cause } : undefined,
  );
}

/** A 404 carrying Heat's own error document (not a proxy's page for a wrong endpoint). */
function isHeatNotFound(err: unknown): boolean {
  if (!(err instanceof UpstreamError) || err.upstreamStatus !== 404 || !err.snippet) return false;
  try {
    return heatErrorSchema.safeParse(JSON.parse(err.snippet)).success;
  } catch {
    // A long error body is cut in the snippet; recognise Heat's document by its shape.
    return /^\s*\{/.test(err.snippet) && /"(explanation|error)"\s*:/.test(err.snippet);
  }
}

/**
 * The marker of the next page: from the `next` link when Heat sends one (we keep our own
 * endpoint and take only the marker, since Heat builds links from its own host URL, which
 * behind a proxy may not be reachable), otherwise the last id of a full page.
 */
function nextMarker(
  links: { href: string; rel: string }[] | null | undefined,
  items: { id: string }[],
  limit: number,
): string | undefined {
  const next = links?.find((l) => l.rel === 'next');
  if (next) {
    try {
      const m = new URL(next.href, 'http://placeholder/').searchParams.get('marker');
      if (m) return m;
    } catch {
      // Fall through to the id of the last item.
    }
  }
  if (items.length === 0) return undefined;
  if (next || items.length >= limit) return items[items.length - 1]!.id;
  return undefined;
}
