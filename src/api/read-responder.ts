/**
 * Serves cache reads: asks the active strategy first (`beforeRead`), then answers with the
 * stored JSON spliced into `{"data":…,"meta":…}` by string concatenation — documents are
 * never parsed or re-serialized on the way out. Computes `meta`, the weak ETag and 304s.
 */
import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Gateway } from '../gateway.js';
import type { RefreshFailure } from '../store/refresh-health.js';
import type { ServedDoc, ServedPage } from '../store/state-store.js';
import type { ReadTarget } from '../strategy/strategy.js';
import type { ActiveStrategy } from './active-strategy.js';

/** What the strategy said before the read, captured once per request. */
export interface Freshness {
  /** JSON literal of the strategy name (built once per request). */
  strategyJson: string;
  staleAfterMs: number;
  failed: boolean;
  reason: string | undefined;
  /** The strategy's name. */
  strategy: string;
  /** Backends configured now (failures recorded for others say nothing). */
  backends: ReadonlySet<string>;
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

export class ReadResponder {
  constructor(
    private readonly gateway: Gateway,
    private readonly strategies: ActiveStrategy,
  ) {}

  /** Lets the strategy refresh (on-demand fetches here); never throws. */
  async beforeRead(target: ReadTarget): Promise<Freshness> {
    const strategy = this.strategies.current();
    let failed = false;
    let reason: string | undefined;
    try {
      const answer = await strategy.beforeRead(target);
      failed = answer.failed;
      reason = answer.reason;
    } catch (err) {
      // A strategy bug must not turn a cached read into a 500: serve the cache, marked stale.
      failed = true;
      reason = `strategy ${strategy.name} failed before the read: ${(err as Error).message}`;
      this.gateway.logger.warn('beforeRead threw; serving the cache marked stale', { strategy: strategy.name, error: (err as Error).message });
    }
    const backends = new Set(this.gateway.config.backends.map((b) => b.id));
    return { strategyJson: JSON.stringify(strategy.name), staleAfterMs: strategy.staleAfterMs(), failed, reason, strategy: strategy.name, backends };
  }

  /** One document: `{"data":<stored json>,"meta":{…}}`, ETag from id kind + version (+ instanceIds). */
  sendOne(req: Request, res: Response, kind: 'instance' | 'deployment', doc: ServedDoc, fresh: Freshness): void {
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
  sendPage(req: Request, res: Response, kind: 'instances' | 'deployments', page: ServedPage, fresh: Freshness, deploymentId?: string): void {
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
    const meta = this.meta(kind, fresh, shown?.observedAtMs, shown?.observedAt, { failure, ages: oldestLive !== undefined });
    this.send(req, res, etag, `{"data":[${data}],"meta":${meta},"next":${page.next === null ? 'null' : JSON.stringify(page.next)}}`);
  }

  private meta(
    kind: Kind,
    fresh: Freshness,
    observedAtMs: number | undefined,
    observedAt: string | undefined,
    rules: { failure: RefreshFailureText | undefined; ages: boolean },
  ): string {
    const ageMs = observedAtMs === undefined ? 0 : Math.max(0, this.gateway.now() - observedAtMs);
    if (observedAtMs !== undefined && rules.ages) this.gateway.metrics.cacheAge.set({ kind }, ageMs / 1_000);
    let staleReason: string | undefined;
    if (fresh.failed) staleReason = fresh.reason ?? 'the strategy could not refresh before the read';
    else if (rules.failure !== undefined) staleReason = rules.failure;
    else if (rules.ages && ageMs > fresh.staleAfterMs) staleReason = `ageMs exceeds the strategy's staleness bound (${fresh.staleAfterMs} ms)`;
    return (
      `{"strategy":${fresh.strategyJson},"observedAt":${observedAt === undefined ? 'null' : `"${observedAt}"`},` +
      `"ageMs":${ageMs},"stale":${staleReason !== undefined}${staleReason === undefined ? '' : `,"staleReason":${JSON.stringify(staleReason)}`}}`
    );
  }

  private send(req: Request, res: Response, etag: string, body: string): void {
    res.setHeader('ETag', etag);
    // Clients may keep the answer but must revalidate: the cache changes at any time.
    res.setHeader('Cache-Control', 'no-cache');
    if (ifNoneMatchHits(req.headers['if-none-match'], etag)) {
      res.statusCode = 304;
      res.end();
      return;
    }
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
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
  if (failure.strategy !== fresh.strategy || (scope.startsWith('b:') && !fresh.backends.has(scope.slice(2)))) return undefined;
  const what = scope.startsWith('b:') ? `backend ${scope.slice(2)}` : `deployment ${scope.slice(2)}`;
  return `the last refresh of ${what} by ${failure.strategy} failed at ${failure.at}: ${failure.reason}`;
}

/** The failure that makes one document stale: its deployment's, else its backend's. */
function failureOf(fresh: Freshness, failures: ReadonlyMap<string, string>, doc: ServedDoc): RefreshFailureText | undefined {
  if (failures.size === 0) return undefined;
  return describeFailure(fresh, failures, `d:${doc.deploymentId}`) ?? describeFailure(fresh, failures, `b:${doc.backendId}`);
}
