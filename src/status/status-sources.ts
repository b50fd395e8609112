/**
 * What the status page reads from the rest of the gateway, behind one small interface:
 * the strategy runtime (strategy in force, backend reachability, its job queue) and the
 * webhook module (endpoint figures, delivery queue). The page never reaches into either;
 * when the runtime is reshaped, only `runtimeSources` changes.
 */
import { STRATEGY_NAMES, type BackendConfig } from '../config/schema.js';
import type { Gateway } from '../gateway.js';
import type { StrategyRuntime } from '../strategy/strategy-runtime.js';
import type { WebhookModule } from '../webhooks/index.js';
import { WebhookStats, type EndpointStats } from '../webhooks/webhook-stats.js';

export interface StrategyInForce {
  /** The deployment-wide strategy (`strategy.name`, or the last admin switch). */
  name: string;
  since: string | null;
  by: string | null;
  available: string[];
  /** Whether a strategy can be set per backend (`PUT /admin/strategy {name, backendId}`). */
  perBackend: boolean;
}

export interface BackendReachability {
  id: string;
  ok: boolean;
  error: string | null;
}

export interface StatusSources {
  strategy(): Promise<StrategyInForce>;
  /** The strategy serving one backend (its own, or the deployment-wide one). */
  strategyOf(backend: BackendConfig, fallback: string): string;
  /** The strategy this replica runs right now, or null before it runs one. */
  running(): string | null;
  /** Reachability of every configured backend (cached by the runtime, cheap to call). */
  reachability(): Promise<BackendReachability[]>;
  /** Job counts per queue: name → state → count. */
  queues(): Promise<Record<string, Record<string, number>>>;
  /** Figures of every webhook endpoint. */
  webhooks(nowMs: number): Promise<EndpointStats[]>;
}

const DELIVERY_QUEUE_STATES = ['waiting', 'delayed', 'active', 'failed'] as const;

/** Sources backed by the runtime and webhook module of this gateway. */
export function runtimeSources(gateway: Gateway, runtime: StrategyRuntime, webhooks: WebhookModule): StatusSources {
  const stats = new WebhookStats(
    gateway.redis,
    webhooks.service.registry.keys,
    webhooks.service.registry,
    webhooks.service.deliveries,
    webhooks.queue,
  );
  return {
    async strategy() {
      const stored = await runtime.stored();
      return {
        name: stored.name ?? gateway.config.strategy.name,
        since: stored.since ?? null,
        by: stored.by ? (JSON.parse(stored.by) as string) : null,
        available: [...STRATEGY_NAMES],
        perBackend: false,
      };
    },
    strategyOf(backend, fallback) {
      // `backends[].strategy` (DESIGN §10) overrides the default where the config has it.
      return (backend as { strategy?: { name?: string } }).strategy?.name ?? fallback;
    },
    running() {
      try {
        return runtime.current().name;
      } catch {
        return null;
      }
    },
    async reachability() {
      const checks = runtime.readiness().filter((c) => c.name.startsWith('backend:'));
      return Promise.all(
        checks.map(async (c) => {
          const id = c.name.slice('backend:'.length);
          try {
            await c.check();
            return { id, ok: true, error: null };
          } catch (err) {
            return { id, ok: false, error: (err as Error).message };
          }
        }),
      );
    },
    async queues() {
      const [strategy, deliveries] = await Promise.all([
        runtime.scheduler.counts(),
        webhooks.queue.queue.getJobCounts(...DELIVERY_QUEUE_STATES),
      ]);
      return { strategy, webhooks: deliveries };
    },
    webhooks: (nowMs) => stats.all(nowMs),
  };
}
