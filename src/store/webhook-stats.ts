/**
 * Per-endpoint delivery figures for the status page: success rate and p99 latency over the
 * recent attempt log, the backlog (deliveries queued, retrying or waiting behind an earlier
 * event of the same instance), health (failing since, disabled) and dead letters.
 * Read-only: it never changes what the delivery worker keeps.
 */
import type { Redis } from 'ioredis';
import type { DeliveryQueue } from '../webhooks/delivery-queue.js';
import type { DeliveryStore } from './delivery-store.js';
import type { WebhookKeys } from './webhook-keys.js';
import type { WebhookRegistry } from './webhook-registry.js';
import type { DeliveryView } from '../webhooks/webhook-schemas.js';

export interface EndpointStats {
  id: string;
  url: string;
  description: string | null;
  ordered: boolean;
  enabled: boolean;
  disabledAt: string | null;
  disabledReason: string | null;
  /** First failure since the last success, when the endpoint is failing now. */
  failingSince: string | null;
  lastSuccessAt: string | null;
  /** Attempts in the window (the newest `windowAttempts` of the last `windowMs`). */
  attempts: number;
  /** Share of those attempts that delivered (0..1), null without attempts. */
  successRate: number | null;
  /** 99th percentile attempt duration (ms), null without attempts. */
  p99LatencyMs: number | null;
  /** Deliveries not finished yet; `backlogCapped` when more than the count walk looked at. */
  backlog: number;
  backlogCapped: boolean;
  deadLetters: number;
  /** The newest dead letters, newest first. */
  dead: DeliveryView[];
}

export interface WebhookStatsOptions {
  /** @defaultValue 1 hour */
  windowMs: number;
  /** @defaultValue 500 */
  windowAttempts: number;
  /** Dead letters listed per endpoint. @defaultValue 5 */
  deadShown: number;
  /** Queue entries inspected to attribute the backlog. @defaultValue 20000 */
  backlogScan: number;
}

const DEFAULTS: WebhookStatsOptions = { windowMs: 3_600_000, windowAttempts: 500, deadShown: 5, backlogScan: 20_000 };

/** The value at quantile `q` (0..1) of `values` (nearest rank), or null when empty. */
export function quantile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export class WebhookStats {
  private readonly options: WebhookStatsOptions;

  constructor(
    private readonly redis: Redis,
    private readonly keys: WebhookKeys,
    private readonly registry: WebhookRegistry,
    private readonly deliveries: DeliveryStore,
    private readonly queue: DeliveryQueue,
    options: Partial<WebhookStatsOptions> = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  /** Figures for every registered endpoint, in id order. */
  async all(nowMs: number): Promise<EndpointStats[]> {
    const endpoints = await this.registry.all();
    if (endpoints.length === 0) return [];
    const [pending, capped] = await this.pendingByEndpoint();
    const health = this.redis.pipeline();
    for (const endpoint of endpoints) {
      health.hmget(this.keys.health(endpoint.id), 'fs', 'ls').zcard(this.keys.dead(endpoint.id)).smembers(this.keys.orderedSubjects(endpoint.id));
    }
    const replies = (await health.exec()) ?? [];
    return Promise.all(
      endpoints.map(async (endpoint, i) => {
        const [fs, ls] = (replies[i * 3]?.[1] as (string | null)[] | undefined) ?? [];
        const deadLetters = Number(replies[i * 3 + 1]?.[1] ?? 0);
        const subjects = (replies[i * 3 + 2]?.[1] as string[] | undefined) ?? [];
        const backlog = new Set(pending.get(endpoint.id));
        if (subjects.length > 0) for (const id of await this.orderedWaiting(endpoint.id, subjects)) backlog.add(id);
        const window = await this.window(endpoint.id, nowMs);
        const dead = deadLetters > 0 ? (await this.deliveries.dead(endpoint.id, this.options.deadShown)).items : [];
        return {
          id: endpoint.id,
          url: endpoint.url,
          description: endpoint.description,
          ordered: endpoint.ordered,
          enabled: endpoint.enabled,
          disabledAt: endpoint.disabledAt,
          disabledReason: endpoint.disabledReason,
          failingSince: fs ? new Date(Number(fs)).toISOString() : null,
          lastSuccessAt: ls ? new Date(Number(ls)).toISOString() : null,
          ...window,
          backlog: backlog.size,
          backlogCapped: capped,
          deadLetters,
          dead,
        };
      }),
    );
  }

  /** Success rate and p99 over the recent attempt log of one endpoint. */
  private async window(endpointId: string, nowMs: number): Promise<Pick<EndpointStats, 'attempts' | 'successRate' | 'p99LatencyMs'>> {
    const { items } = await this.deliveries.attempts(endpointId, this.options.windowAttempts);
    const since = nowMs - this.options.windowMs;
    // Attempts refused before sending (endpoint disabled) took no time and say nothing about latency.
    const recent = items.filter((a) => Date.parse(a.at) >= since && !(a.status === null && a.durationMs === 0));
    if (recent.length === 0) return { attempts: 0, successRate: null, p99LatencyMs: null };
    const delivered = recent.filter((a) => a.outcome === 'delivered').length;
    return { attempts: recent.length, successRate: delivered / recent.length, p99LatencyMs: quantile(recent.map((a) => a.durationMs), 0.99) };
  }

  /**
   * Unfinished deliveries per endpoint, from the delivery queue: every queued, delayed
   * (retrying) or running job names its endpoint and event in its id (`ep.event.run`).
   */
  private async pendingByEndpoint(): Promise<[Map<string, Set<string>>, boolean]> {
    const ids = await this.queue.queue.getRanges(['waiting', 'prioritized', 'delayed', 'active'], 0, this.options.backlogScan - 1);
    const out = new Map<string, Set<string>>();
    for (const jobId of ids) {
      const [endpoint, event] = jobId.split('.');
      if (!endpoint || !event) continue;
      let set = out.get(endpoint);
      if (!set) out.set(endpoint, (set = new Set()));
      set.add(event);
    }
    return [out, ids.length >= this.options.backlogScan];
  }

  /** Ordered endpoints: events waiting behind an earlier event of the same instance. */
  private async orderedWaiting(endpointId: string, subjects: string[]): Promise<string[]> {
    const pipeline = this.redis.pipeline();
    for (const subject of subjects.slice(0, 1_000)) pipeline.lrange(this.keys.ordered(endpointId, subject), 0, 999);
    return ((await pipeline.exec()) ?? []).flatMap(([, ids]) => (ids as string[] | null) ?? []);
  }
}
