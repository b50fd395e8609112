/**
 * Builds the status snapshot. Cheap figures (counts, feed length, queue depths, replicas)
 * are read on every build; the walks that grow with the data (cache ages over every
 * instance, the attempt log of every endpoint) and backend pings refresh in the background
 * and are spaced so they never cost Redis more than about 5 % of its time, however many
 * pages watch. Builds within half a second share one result.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { ChangeFeed } from '../store/change-feed.js';
import type { StateStore } from '../store/state-store.js';
import type { CacheAgeReader, CacheAges } from '../store/cache-ages.js';
import type { ReplicaRegistry } from '../store/replica-registry.js';
import type { EndpointStats } from '../store/webhook-stats.js';
import type { ReplicaStatusCard } from './replica-heartbeat.js';
import type { BackendStatus, StatusSnapshot, WebhookStatus } from './status-schema.js';
import type { BackendReachability, StatusSources } from './status-sources.js';

/** Points kept for the sparklines. */
export const HISTORY_POINTS = 60;
const FEED_RATE_WINDOW_MS = 10_000;

/**
 * A value loaded in the background: `get()` answers the last value at once (waiting only for
 * the very first load, at most `firstWaitMs`) and starts a reload when the last one is older
 * than `max(minIntervalMs, costFactor × its duration)`, capped at `maxIntervalMs`. The
 * duration is wall-clock time, so it counts the event loop's other work too: on a busy
 * replica a cheap load can look slow, and without the cap one such load would leave the
 * value `costFactor` times as stale.
 */
export class BackgroundValue<T> {
  private value: { data: T; atMs: number } | undefined;
  private loading: Promise<void> | undefined;
  private nextDueMs = 0;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly options: {
      minIntervalMs: number;
      costFactor: number;
      maxIntervalMs?: number;
      firstWaitMs: number;
      onError: (err: Error) => void;
      /** Wall clock (ms); tests drive it. */
      clock?: () => number;
    },
  ) {}

  /** `nowMs` (gateway time) dates the value; spacing runs on the wall clock. */
  async get(nowMs: number): Promise<{ data: T; atMs: number } | undefined> {
    const clock = this.options.clock ?? Date.now;
    const started = clock();
    if (!this.loading && started >= this.nextDueMs) {
      this.loading = this.load()
        .then((data) => {
          this.value = { data, atMs: nowMs };
        })
        .catch((err: Error) => this.options.onError(err))
        .finally(() => {
          const { minIntervalMs, costFactor, maxIntervalMs = Infinity } = this.options;
          this.nextDueMs = started + Math.min(maxIntervalMs, Math.max(minIntervalMs, costFactor * (clock() - started)));
          this.loading = undefined;
        });
    }
    if (!this.value && this.loading) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.loading, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.firstWaitMs)))]);
      clearTimeout(timer);
    }
    return this.value;
  }
}

interface Sample {
  atMs: number;
  entriesAdded: number;
  backendRates: Map<string, number>;
}

export type BaseSnapshot = Omit<StatusSnapshot, 'viewer'>;

/** What the collector reads besides the sources. */
export interface StatusCollectorDeps {
  config: () => Config;
  store: StateStore;
  feed: ChangeFeed;
  cacheAges: CacheAgeReader;
  logger: Logger;
  now: () => number;
}

export class StatusCollector {
  private readonly ages: BackgroundValue<CacheAges>;
  private readonly endpoints: BackgroundValue<EndpointStats[]>;
  private readonly reach: BackgroundValue<BackendReachability[]>;
  private readonly samples: Sample[] = [];
  private shared: { atMs: number; snapshot: Promise<BaseSnapshot> } | undefined;

  constructor(
    private readonly deps: StatusCollectorDeps,
    private readonly sources: StatusSources,
    private readonly replicas: ReplicaRegistry,
    private readonly selfId: string,
    private readonly version: string,
  ) {
    const reader = deps.cacheAges;
    const onError = (what: string) => (err: Error) => deps.logger.warn(`status: cannot read ${what}`, { error: err.message });
    const background = { minIntervalMs: 1_000, costFactor: 20, firstWaitMs: 2_000 };
    this.ages = new BackgroundValue(() => reader.read(deps.now()), { ...background, onError: onError('cache ages') });
    // Webhook figures are what an operator acts on (a failing endpoint, a redelivery): never
    // more than 5 s behind, whatever one slow load took.
    this.endpoints = new BackgroundValue(() => sources.webhooks(deps.now()), { ...background, maxIntervalMs: 5_000, onError: onError('webhook figures') });
    this.reach = new BackgroundValue(() => sources.reachability(), { ...background, firstWaitMs: 1_500, onError: onError('backend reachability') });
  }

  /** The snapshot shared by every viewer (at most one build per half second). */
  snapshot(): Promise<BaseSnapshot> {
    const nowMs = this.deps.now();
    if (!this.shared || nowMs - this.shared.atMs >= 500) {
      const snapshot = this.build(nowMs);
      this.shared = { atMs: nowMs, snapshot };
      // A failed build is not kept: the next request tries again.
      snapshot.catch(() => {
        if (this.shared?.snapshot === snapshot) this.shared = undefined;
      });
    }
    return this.shared.snapshot;
  }

  /** Records a feed and backend-rate sample (the module calls this every couple of seconds). */
  async sample(): Promise<void> {
    const nowMs = this.deps.now();
    const [feed, alive] = await Promise.all([this.deps.feed.info(), this.replicas.alive<ReplicaStatusCard>(nowMs)]);
    this.record(nowMs, feed.entriesAdded, clusterRates(alive.map((r) => r.card)));
  }

  private record(atMs: number, entriesAdded: number, backendRates: Map<string, number>): void {
    const last = this.samples.at(-1);
    if (last && atMs - last.atMs < 900) return;
    this.samples.push({ atMs, entriesAdded, backendRates });
    if (this.samples.length > HISTORY_POINTS + 1) this.samples.shift();
  }

  private async build(nowMs: number): Promise<BaseSnapshot> {
    const [strategy, counts, feed, queues, alive, ages, endpoints, reach] = await Promise.all([
      this.sources.strategy(),
      this.deps.store.counts(),
      this.deps.feed.info(),
      this.sources.queues(),
      this.replicas.alive<ReplicaStatusCard>(nowMs),
      this.ages.get(nowMs),
      this.endpoints.get(nowMs),
      this.reach.get(nowMs),
    ]);
    const cards = alive.map((r) => r.card);
    const rates = clusterRates(cards);
    this.record(nowMs, feed.entriesAdded, rates);
    const config = this.deps.config();
    const backends: BackendStatus[] = config.backends.map((backend) => {
      const activity = cards.map((c) => c.backends[backend.id]).filter((a) => a !== undefined);
      const latest = (pick: (a: (typeof activity)[number]) => number | null) =>
        activity.reduce<number | null>((best, a) => (pick(a) !== null && (best === null || pick(a)! > best) ? pick(a) : best), null);
      const reachable = reach?.data.find((r) => r.id === backend.id);
      const lastSyncAtMs = latest((a) => a.lastSyncAtMs);
      const lastFailedSyncAtMs = latest((a) => a.lastFailedSyncAtMs);
      const errorRate = activity.reduce((sum, a) => sum + a.errorRate, 0);
      return {
        id: backend.id,
        kind: backend.kind,
        strategy: this.sources.strategyOf(backend, strategy.name),
        health: healthOf(reachable?.ok ?? null, errorRate, lastSyncAtMs, lastFailedSyncAtMs),
        reachable: reachable ? reachable.ok : null,
        reachError: reachable?.error ?? null,
        lastSyncAt: iso(lastSyncAtMs),
        lastFailedSyncAt: iso(lastFailedSyncAtMs),
        requestRate: rates.get(backend.id) ?? 0,
        errorRate,
        history: this.samples.map((s) => s.backendRates.get(backend.id) ?? 0),
      };
    });
    const buckets = ages?.data.buckets;
    return {
      generatedAt: new Date(nowMs).toISOString(),
      version: this.version,
      strategy,
      backends,
      cache: {
        ...counts,
        vanished: ages ? ages.data.vanished : null,
        ages: buckets ? { under1s: buckets[0]!, under10s: buckets[1]!, under1m: buckets[2]!, older: buckets[3]! } : null,
        agesAt: iso(ages?.atMs ?? null),
      },
      feed: {
        length: feed.length,
        ratePerSecond: this.feedRate(),
        history: this.samples.slice(1).map((s, i) => perSecond(this.samples[i]!, s)),
        firstCursor: feed.firstCursor,
        lastCursor: feed.lastCursor,
        maxLength: config.feed.maxLength,
        maxAgeMs: config.feed.maxAgeMs,
      },
      queues,
      webhooks: (endpoints?.data ?? []).map(toWebhookStatus),
      replicas: alive.map(({ card, beatAtMs }) => ({
        id: card.id,
        host: card.host,
        pid: card.pid,
        version: card.version,
        startedAt: card.startedAt,
        lastBeatAt: new Date(beatAtMs).toISOString(),
        strategy: card.strategy,
        rssBytes: card.rssBytes,
        self: card.id === this.selfId,
      })),
    };
  }

  /** Events per second over the last ~10 s of samples. */
  private feedRate(): number | null {
    const last = this.samples.at(-1);
    if (!last) return null;
    const base = this.samples.find((s) => last.atMs - s.atMs <= FEED_RATE_WINDOW_MS + 500 && s !== last);
    return base ? perSecond(base, last) : null;
  }
}

function perSecond(from: Sample, to: Sample): number {
  const seconds = (to.atMs - from.atMs) / 1_000;
  return seconds > 0 ? Math.max(0, to.entriesAdded - from.entriesAdded) / seconds : 0;
}

/** Backend request rates summed over every live replica. */
function clusterRates(cards: ReplicaStatusCard[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const card of cards) for (const [id, a] of Object.entries(card.backends)) out.set(id, (out.get(id) ?? 0) + a.requestRate);
  return out;
}

function healthOf(reachable: boolean | null, errorRate: number, lastSyncAtMs: number | null, lastFailedSyncAtMs: number | null): BackendStatus['health'] {
  if (reachable === false) return 'down';
  const syncFailing = lastFailedSyncAtMs !== null && (lastSyncAtMs === null || lastFailedSyncAtMs > lastSyncAtMs);
  if (errorRate > 0 || syncFailing) return 'degraded';
  if (reachable === true || lastSyncAtMs !== null) return 'ok';
  return 'unknown';
}

function toWebhookStatus(stats: EndpointStats): WebhookStatus {
  const state = !stats.enabled ? 'disabled' : stats.failingSince ? 'failing' : stats.attempts === 0 ? 'idle' : 'ok';
  return { ...stats, state };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
