/**
 * Serves cache reads: asks the active strategy first (`beforeRead`), then answers with the
 * stored JSON spliced into `{"data":…,"meta":…}` by string concatenation — documents are
 * never parsed or re-serialized on the way out. Computes `meta`, the weak ETag and 304s.
 */
import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
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
    private readonly deps: { logger: Logger; metrics: Metrics; now: () => number },
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
      this.deps.logger.warn('beforeRead threw; serving the cache marked stale', { strategy: strategy.name, error: (err as Error).message });
    }
    return { strategyJson: JSON.stringify(strategy.name), staleAfterMs: strategy.staleAfterMs(), failed, reason };
  }

  /** One document: `{"data":<stored json>,"meta":{…}}`, ETag from id kind + version (+ instanceIds). */
  sendOne(req: Request, res: Response, kind: 'instance' | 'deployment', doc: ServedDoc, fresh: Freshness): void {
    const etag = kind === 'instance' ? `W/"i${doc.version}"` : `W/"d${doc.version}.${shortHash(instanceIdsOf(doc.json))}"`;
    const meta = this.meta(kind, fresh, doc.observedAtMs, doc.observedAt);
    this.send(req, res, etag, `{"data":${doc.json},"meta":${meta}}`);
  }

  /** A page: `{"data":[…],"meta":{…},"next":…}`; ETag from every id + version (+ instanceIds) and `next`. */
  sendPage(req: Request, res: Response, kind: 'instances' | 'deployments', page: ServedPage, fresh: Freshness): void {
    const hash = createHash('sha1');
    let oldest: ServedDoc | undefined;
    let data = '';
    for (const item of page.items) {
      hash.update(`${item.id}\u0000${item.version}\u0000`);
      if (kind === 'deployments') hash.update(instanceIdsOf(item.json));
      hash.update('\n');
      if (!oldest || item.observedAtMs < oldest.observedAtMs) oldest = item;
      data += data === '' ? item.json : `,${item.json}`;
    }
    hash.update(`next:${page.next ?? ''}`);
    const etag = `W/"${hash.digest('base64url').slice(0, 22)}"`;
    const meta = this.meta(kind, fresh, oldest?.observedAtMs, oldest?.observedAt);
    this.send(req, res, etag, `{"data":[${data}],"meta":${meta},"next":${page.next === null ? 'null' : JSON.stringify(page.next)}}`);
  }

  private meta(kind: Kind, fresh: Freshness, observedAtMs: number | undefined, observedAt: string | undefined): string {
    const ageMs = observedAtMs === undefined ? 0 : Math.max(0, this.deps.now() - observedAtMs);
    if (observedAtMs !== undefined) this.deps.metrics.cacheAge.set({ kind }, ageMs / 1_000);
    let staleReason: string | undefined;
    if (fresh.failed) staleReason = fresh.reason ?? 'the strategy could not refresh before the read';
    else if (ageMs > fresh.staleAfterMs) staleReason = `ageMs exceeds the strategy's staleness bound (${fresh.staleAfterMs} ms)`;
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
