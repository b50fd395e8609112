/**
 * This replica's heartbeat: every second it samples its own Prometheus counters (backend
 * requests, strategy sync runs), and every `beatMs` it publishes a card through the
 * {@link ReplicaRegistry}: who it is, what it runs, and per backend its request rate over
 * the last minute and the time of its last successful sync. The status page adds the cards
 * of every live replica up, so the figures cover the whole deployment, not one process.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Metrics } from '../metrics/metrics.js';
import type { Logger } from '../log/logger.js';
import { STORE_LAYOUT } from '../store/store-layout.js';
import type { ReplicaRegistry } from '../store/replica-registry.js';

export interface BackendActivity {
  /** Backend requests per second over the last minute (this replica). */
  requestRate: number;
  /** Failed backend requests per second over the last minute. */
  errorRate: number;
  /** Last sync (listing, refresh) that succeeded, ms. */
  lastSyncAtMs: number | null;
  /** Last sync that failed, ms. */
  lastFailedSyncAtMs: number | null;
}

export interface ReplicaStatusCard {
  id: string;
  host: string;
  pid: number;
  version: string;
  /** The store layout this replica reads and writes (store-layout.ts; none before layout 2). */
  feedLayout: number;
  node: string;
  startedAt: string;
  /** The strategy this replica runs, when it runs one. */
  strategy: string | null;
  rssBytes: number;
  backends: Record<string, BackendActivity>;
}

interface Sample {
  atMs: number;
  /** Per backend: total requests, failed requests. */
  requests: Map<string, { total: number; failed: number }>;
}

const RATE_WINDOW_MS = 60_000;

/** A backend request counts as failed unless it got a 2xx/3xx answer. */
const failed = (outcome: string | number | undefined) => !/^[23]\d\d$/.test(String(outcome ?? ''));

export class ReplicaHeartbeat {
  readonly id = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly startedAt: string;
  private readonly samples: Sample[] = [];
  private readonly lastSync = new Map<string, { okRuns: number; errorRuns: number; okAtMs: number | null; errorAtMs: number | null }>();
  private sampler: NodeJS.Timeout | undefined;
  private beater: NodeJS.Timeout | undefined;
  private beating: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: {
      registry: ReplicaRegistry;
      metrics: Metrics;
      logger: Logger;
      version: string;
      /** The strategy this replica runs now (null before it runs one). */
      strategy: () => string | null;
      now: () => number;
      /** @defaultValue 2000 */
      beatMs?: number;
    },
  ) {
    this.startedAt = new Date(deps.now()).toISOString();
  }

  start(): void {
    void this.sample().then(() => this.beat());
    this.sampler = setInterval(() => void this.sample(), 1_000);
    this.beater = setInterval(() => void this.beat(), this.deps.beatMs ?? 2_000);
    this.sampler.unref();
    this.beater.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.sampler);
    clearInterval(this.beater);
    await this.beating;
    await this.deps.registry.leave(this.id).catch(() => undefined);
  }

  /** Publishes the card now (also called by the timer). Never throws: Redis may be away. */
  beat(): Promise<void> {
    this.beating = this.deps.registry.beat({ ...this.card() }, this.deps.now()).catch((err: Error) => {
      this.deps.logger.debug('heartbeat not recorded; Redis unreachable?', { error: err.message });
    });
    return this.beating;
  }

  /** What this replica says about itself right now. */
  card(): ReplicaStatusCard {
    const backends: Record<string, BackendActivity> = {};
    const latest = this.samples.at(-1);
    // The oldest sample still within the window is the base of the rates.
    const base = this.samples.find((s) => latest && latest.atMs - s.atMs <= RATE_WINDOW_MS);
    const seconds = latest && base ? (latest.atMs - base.atMs) / 1_000 : 0;
    const ids = new Set([...(latest?.requests.keys() ?? []), ...this.lastSync.keys()]);
    for (const id of ids) {
      const now = latest?.requests.get(id) ?? { total: 0, failed: 0 };
      const then = base?.requests.get(id) ?? { total: 0, failed: 0 };
      const sync = this.lastSync.get(id);
      backends[id] = {
        requestRate: seconds > 0 ? (now.total - then.total) / seconds : 0,
        errorRate: seconds > 0 ? (now.failed - then.failed) / seconds : 0,
        lastSyncAtMs: sync?.okAtMs ?? null,
        lastFailedSyncAtMs: sync?.errorAtMs ?? null,
      };
    }
    return {
      id: this.id,
      host: hostname(),
      pid: process.pid,
      version: this.deps.version,
      feedLayout: STORE_LAYOUT,
      node: process.version,
      startedAt: this.startedAt,
      strategy: this.deps.strategy(),
      rssBytes: process.memoryUsage.rss(),
      backends,
    };
  }

  /** Reads this process's counters; a sync run counter that moved since the last sample dates the sync. */
  async sample(): Promise<void> {
    const atMs = this.deps.now();
    const requests = new Map<string, { total: number; failed: number }>();
    for (const { labels, value } of (await this.deps.metrics.backendRequests.get()).values) {
      const id = String(labels.backend);
      const entry = requests.get(id) ?? { total: 0, failed: 0 };
      entry.total += value;
      if (failed(labels.outcome)) entry.failed += value;
      requests.set(id, entry);
    }
    const runs = new Map<string, { ok: number; error: number }>();
    for (const { labels, value } of (await this.deps.metrics.pollRuns.get()).values) {
      const id = String(labels.backend);
      const entry = runs.get(id) ?? { ok: 0, error: 0 };
      if (labels.outcome === 'ok') entry.ok += value;
      else entry.error += value;
      runs.set(id, entry);
    }
    for (const [id, count] of runs) {
      const previous = this.lastSync.get(id) ?? { okRuns: 0, errorRuns: 0, okAtMs: null, errorAtMs: null };
      this.lastSync.set(id, {
        okRuns: count.ok,
        errorRuns: count.error,
        okAtMs: count.ok > previous.okRuns ? atMs : previous.okAtMs,
        errorAtMs: count.error > previous.errorRuns ? atMs : previous.errorAtMs,
      });
    }
    this.samples.push({ atMs, requests });
    while (this.samples.length > 0 && atMs - this.samples[0]!.atMs > RATE_WINDOW_MS + 2_000) this.samples.shift();
  }
}
