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
import type { ReadTarget, Strategy } from '../strategy/strategy.js';
import type { ActiveStrategy } from './active-strategy.js';

/** What the strategy said before the read, captured once per request. */
export interface Freshness {
  /** JSON literal of the strategy name (built once per request). */
  strategyJson: string;
  staleAfterMs: number;
  failed: boolean;
  reason: string | undefined;
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

export class ReadResponder {
  constructor(
    private readonly deps: { logger: Logger; metrics: Metrics; now: () => number },
    private readonly strategies: ActiveStrategy,
  ) {}

  /**
   * Lets the strategies refresh (on-demand fetches here); never throws. A read across
   * backends on different strategies combines them: stale if any part failed (the reason
   * names its backends), the tightest staleness bound, and the strategies' names.
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
    const meta = this.meta(kind, fresh, oldest?.observedAtMs, oldest?.observedAt, fresh.bounds && this.staleBackends(page, fresh.bounds));
    this.send(req, res, etag, `{"data":[${data}],"meta":${meta},"next":${page.next === null ? 'null' : JSON.stringify(page.next)}}`);
  }

  /** Across backends: each item is held to its own backend's bound; names the backends past theirs. */
  private staleBackends(page: ServedPage, bounds: NonNullable<Freshness['bounds']>): string | null {
    const now = this.deps.now();
    const late = new Map<string, string>();
    for (const item of page.items) {
      const bound = item.backendId ? bounds.get(item.backendId) : undefined;
      if (bound && now - item.observedAtMs > bound.staleAfterMs) late.set(item.backendId!, `${item.backendId} (${bound.strategy}, ${bound.staleAfterMs} ms)`);
    }
    return late.size === 0 ? null : `data of backend ${[...late.values()].join(', ')} is older than its strategy's staleness bound`;
  }

  private meta(kind: Kind, fresh: Freshness, observedAtMs: number | undefined, observedAt: string | undefined, acrossBackends?: string | null): string {
    const ageMs = observedAtMs === undefined ? 0 : Math.max(0, this.deps.now() - observedAtMs);
    if (observedAtMs !== undefined) this.deps.metrics.cacheAge.set({ kind }, ageMs / 1_000);
    let staleReason: string | undefined;
    if (fresh.failed) staleReason = fresh.reason ?? 'the strategy could not refresh before the read';
    else if (acrossBackends !== undefined) staleReason = acrossBackends ?? undefined;
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
