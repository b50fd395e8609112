/**
 * Serves cache reads: asks the strategies first (`beforeRead`: the owning backend's, or each
 * one in use for a read across backends), then answers with the
 * stored JSON spliced into `{"data":…,"meta":…}` by string concatenation — documents are
 * never parsed or re-serialized on the way out. Computes `meta`, the weak ETag and 304s.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/schema.js';
import { NotFoundError, UnavailableError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RefreshFailure } from '../store/refresh-health.js';
import type { ServedDoc, ServedPage } from '../store/state-store.js';
import type { ReadTarget, Strategy } from '../strategy/strategy.js';
import type { ActiveStrategy } from './active-strategy.js';

/** What the strategy said before the read, captured once per request. */
export interface Freshness {
  /** JSON literal of the strategy name (built once per request). */
  strategyJson: string;
  staleAfterMs: number;
  failed: boolean;
  reason: string | undefined;
  /** The strategies asked (failures recorded by others say nothing). */
  strategies: ReadonlySet<string>;
  /** Backends configured now (failures recorded for others say nothing). */
  backends: ReadonlySet<string>;
  /** A read across backends on different strategies: each backend's bound and strategy. */
  bounds?: Map<string, { staleAfterMs: number; strategy: string }>;
}

type Kind = ReadTarget['kind'];

const INSTANCE_IDS_MEMBER = ',"instanceIds":';

/**
 * The part of a deployment document that changes without a version bump: the store splices
 * `instanceIds` in at the end when serving.
 */
function instanceIdsOf(json: string): string {
  const at = json.lastIndexOf(INSTANCE_IDS_MEMBER);
  return at < 0 ? '' : json.slice(at);
}

const shortHash = (text: string) => createHash('sha1').update(text).digest('base64url').slice(0, 22);

/** True when `If-None-Match` lists `etag` (weak comparison, RFC 9110 §13.1.2) or is `*`. */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  for (const candidate of header.split(',')) {
    if (candidate.trim().replace(/^W\//, '') === opaque) return true;
  }
  return false;
}

export interface ReadResponderDeps {
  config: () => Config;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
}

export class ReadResponder {
  /** The cache-age gauge by kind, looked up once (a label lookup per read is measurable). */
  private readonly cacheAge: Record<Kind, { set(value: number): void }>;

  constructor(
    private readonly deps: ReadResponderDeps,
    private readonly strategies: ActiveStrategy,
  ) {
    const gauge = deps.metrics.cacheAge;
    this.cacheAge = {
      instance: gauge.labels({ kind: 'instance' }),
      instances: gauge.labels({ kind: 'instances' }),
      deployment: gauge.labels({ kind: 'deployment' }),
      deployments: gauge.labels({ kind: 'deployments' }),
    };
  }

  /**
   * Lets the strategies refresh (on-demand fetches here); never throws. A read across
   * backends on different strategies combines them: stale if any part failed (the reason
   * names its backends), each backend held to its own bound, and the strategies' names.
   */
  async beforeRead(target: ReadTarget): Promise<Freshness> {
    const parts = await this.strategies.forRead(target);
    const answers = await Promise.all(parts.map(async (part) => ({ part, ...(await this.ask(part.strategy, target)) })));
    const failed = answers.filter((a) => a.failed);
    const reason =
      failed.length === 0
        ? undefined
        : parts.length === 1
          ? failed[0]!.reason
          : failed.map((a) => `backend ${a.part.backendIds.join(', ') || '(none)'} (${a.part.strategy.name}): ${a.reason ?? 'refresh failed'}`).join('; ');
    const names = [...new Set(parts.map((p) => p.strategy.name))];
    const fresh: Freshness = {
      strategyJson: JSON.stringify(names.join(',')),
      staleAfterMs: Math.min(...parts.map((p) => (p.backendIds.length === 1 ? p.strategy.staleAfterMs(p.backendIds[0]) : p.strategy.staleAfterMs()))),
      failed: failed.length > 0,
      reason,
      strategies: new Set(names),
      backends: new Set(this.deps.config().backends.map((b) => b.id)),
    };
    if (parts.length > 1) {
      fresh.bounds = new Map(parts.flatMap((p) => p.backendIds.map((id) => [id, { staleAfterMs: p.strategy.staleAfterMs(id), strategy: p.strategy.name }] as const)));
    }
    return fresh;
  }

  private async ask(strategy: Strategy, target: ReadTarget): Promise<{ failed: boolean; reason: string | undefined }> {
    try {
      const answer = await strategy.beforeRead(target);
      return { failed: answer.failed, reason: answer.reason };
    } catch (err) {
      // A strategy bug must not turn a cached read into a 500: serve the cache, marked stale.
      this.deps.logger.warn('beforeRead threw; serving the cache marked stale', { strategy: strategy.name, error: (err as Error).message });
      return { failed: true, reason: `strategy ${strategy.name} failed before the read: ${(err as Error).message}` };
    }
  }

  /** One document: `{"data":<stored json>,"meta":{…}}`, ETag from id kind + version (+ instanceIds). */
  sendOne(req: IncomingMessage, res: ServerResponse, kind: 'instance' | 'deployment', doc: ServedDoc, fresh: Freshness): void {
    const etag = kind === 'instance' ? `W/"i${doc.version}"` : `W/"d${doc.version}.${shortHash(instanceIdsOf(doc.json))}"`;
    const failure = failureOf(fresh, doc.failures ?? new Map(), doc);
    const meta = this.meta(kind, fresh, doc.observedAtMs, doc.observedAt, { failure, ages: !doc.tombstone });
    this.send(req, res, etag, `{"data":${doc.json},"meta":${meta}}`);
  }

  /**
   * A page: `{"data":[…],"meta":{…},"next":…}`; ETag from every id + version (+ instanceIds)
   * and `next`. Tombstones never make a page stale by age (they are never observed again);
   * a page is stale when a scope it covers failed its last refresh: `deploymentId` for the
   * instances of one deployment, otherwise every backend (a list spans all of them).
   */
  sendPage(req: IncomingMessage, res: ServerResponse, kind: 'instances' | 'deployments', page: ServedPage, fresh: Freshness, deploymentId?: string): void {
    const hash = createHash('sha1');
    let oldestLive: ServedDoc | undefined;
    let oldest: ServedDoc | undefined;
    let failure: RefreshFailureText | undefined;
    let data = '';
    for (const item of page.items) {
      hash.update(`${item.id}\u0000${item.version}\u0000`);
      if (kind === 'deployments') hash.update(instanceIdsOf(item.json));
      hash.update('\n');
      if (!oldest || item.observedAtMs < oldest.observedAtMs) oldest = item;
      if (!item.tombstone && (!oldestLive || item.observedAtMs < oldestLive.observedAtMs)) oldestLive = item;
      failure ??= failureOf(fresh, page.failures, item);
      data += data === '' ? item.json : `,${item.json}`;
    }
    if (deploymentId !== undefined) failure ??= describeFailure(fresh, page.failures, `d:${deploymentId}`);
    else for (const scope of page.failures.keys()) if (scope.startsWith('b:')) failure ??= describeFailure(fresh, page.failures, scope);
    hash.update(`next:${page.next ?? ''}`);
    const etag = `W/"${hash.digest('base64url').slice(0, 22)}"`;
    const shown = oldestLive ?? oldest;
    const across = fresh.bounds ? this.staleBackends(page, fresh.bounds) : undefined;
    const meta = this.meta(kind, fresh, shown?.observedAtMs, shown?.observedAt, { failure, ages: oldestLive !== undefined, across });
    this.send(req, res, etag, `{"data":[${data}],"meta":${meta},"next":${page.next === null ? 'null' : JSON.stringify(page.next)}}`);
  }

  /** Across backends: each live item is held to its own backend's bound; names the backends past theirs. */
  private staleBackends(page: ServedPage, bounds: NonNullable<Freshness['bounds']>): string | null {
    const now = this.deps.now();
    const late = new Map<string, string>();
    for (const item of page.items) {
      const bound = item.tombstone ? undefined : bounds.get(item.backendId);
      if (bound && now - item.observedAtMs > bound.staleAfterMs) late.set(item.backendId, `${item.backendId} (${bound.strategy}, ${bound.staleAfterMs} ms)`);
    }
    return late.size === 0 ? null : `data of backend ${[...late.values()].join(', ')} is older than its strategy's staleness bound`;
  }

  private meta(
    kind: Kind,
    fresh: Freshness,
    observedAtMs: number | undefined,
    observedAt: string | undefined,
    rules: { failure: RefreshFailureText | undefined; ages: boolean; across?: string | null | undefined },
  ): string {
    const ageMs = observedAtMs === undefined ? 0 : Math.max(0, this.deps.now() - observedAtMs);
    if (observedAtMs !== undefined && rules.ages) this.cacheAge[kind].set(ageMs / 1_000);
    let staleReason: string | undefined;
    if (fresh.failed) staleReason = fresh.reason ?? 'the strategy could not refresh before the read';
    else if (rules.failure !== undefined) staleReason = rules.failure;
    else if (rules.across !== undefined) staleReason = rules.across ?? undefined;
    else if (rules.ages && ageMs > fresh.staleAfterMs) staleReason = `ageMs exceeds the strategy's staleness bound (${fresh.staleAfterMs} ms)`;
    return (
      `{"strategy":${fresh.strategyJson},"observedAt":${observedAt === undefined ? 'null' : `"${observedAt}"`},` +
      `"ageMs":${ageMs},"stale":${staleReason !== undefined}${staleReason === undefined ? '' : `,"staleReason":${JSON.stringify(staleReason)}`}}`
    );
  }

  private send(req: IncomingMessage, res: ServerResponse, etag: string, body: string): void {
    // Clients may keep the answer but must revalidate: the cache changes at any time.
    if (ifNoneMatchHits(req.headers['if-none-match'], etag)) {
      res.writeHead(304, { ETag: etag, 'Cache-Control': 'no-cache' });
      res.end();
      return;
    }
    res.writeHead(200, { ETag: etag, 'Cache-Control': 'no-cache', 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }
}

type RefreshFailureText = string;

/**
 * Why `scope` is stale, when its last refresh by the running strategy failed. Failures of
 * another strategy (switched away from) or of a backend no longer configured say nothing.
 */
function describeFailure(fresh: Freshness, failures: ReadonlyMap<string, string>, scope: string): RefreshFailureText | undefined {
  const json = failures.get(scope);
  if (!json) return undefined;
  let failure: RefreshFailure;
  try {
    failure = JSON.parse(json) as RefreshFailure;
  } catch {
    return undefined;
  }
  if (!fresh.strategies.has(failure.strategy) || (scope.startsWith('b:') && !fresh.backends.has(scope.slice(2)))) return undefined;
  const what = scope.startsWith('b:') ? `backend ${scope.slice(2)}` : `deployment ${scope.slice(2)}`;
  return `the last refresh of ${what} by ${failure.strategy} failed at ${failure.at}: ${failure.reason}`;
}

/** The failure that makes one document stale: its deployment's, else its backend's. */
function failureOf(fresh: Freshness, failures: ReadonlyMap<string, string>, doc: ServedDoc): RefreshFailureText | undefined {
  if (failures.size === 0) return undefined;
  return describeFailure(fresh, failures, `d:${doc.deploymentId}`) ?? describeFailure(fresh, failures, `b:${doc.backendId}`);
}

/**
 * Nothing cached: a 404 when the strategy's refresh worked (the backend does not have it
 * either), a 503 when it failed (we cannot tell; try again).
 */
export function absent(fresh: Pick<Freshness, 'failed' | 'reason'>, notFound: string): Error {
  if (!fresh.failed) return new NotFoundError(notFound);
  return new UnavailableError(`the backend could not be asked and nothing is cached: ${fresh.reason ?? 'refresh failed'}`, { retryAfterSeconds: 5 });
}
