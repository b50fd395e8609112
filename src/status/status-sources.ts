/**
 * What the status page reads from the rest of the gateway, behind one small interface:
 * the strategy runtime (strategy in force, backend reachability, its job queue) and the
 * webhook module (endpoint figures, delivery queue). The page never reaches into either;
 * when the runtime is reshaped, only `runtimeSources` changes.
 */
import type { BackendConfig } from '../config/schema.js';
import type { ModuleDeps } from '../gateway.js';
import type { StrategyRuntime } from '../strategy/strategy-runtime.js';
import type { WebhookModule } from '../webhooks/index.js';
import type { EndpointStats } from '../store/webhook-stats.js';

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
export function runtimeSources(deps: ModuleDeps, runtime: StrategyRuntime, webhooks: WebhookModule): StatusSources {
  const stats = deps.stores.webhookStats(webhooks.service.deliveries, webhooks.queue);
  return {
    async strategy() {
      const state = await runtime.describe();
      return { name: state.name, since: state.since, by: state.by, available: state.available, perBackend: true };
    },
    strategyOf(backend, fallback) {
      // Its own strategy (backends[].strategy or a per-backend switch), else the default.
      return runtime.assignedTo(backend.id) ?? fallback;
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
