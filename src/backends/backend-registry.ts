/**
 * The configured backends, by id: one client each, the source a strategy reads through, the
 * push subscription of those that offer one (Zaqar), and cached pings for `/readyz` and
 * `/admin/status`. Rebuilt when the `backends` section of the config changes.
 */
import type { BackendConfig, Config } from '../config/schema.js';
import type { ReadinessCheck } from '../http/health.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { DeltacloudSource } from '../sources/deltacloud-source.js';
import { HeatSource } from '../sources/heat-source.js';
import { isDeploymentSource, type DeploymentSource, type InstanceSource } from '../sources/instance-source.js';
import type { CacheReader } from '../store/cache-reader.js';
import { createBackendClients, pingBackends, type BackendClient, type BackendClients } from './create-backend-clients.js';
import { ZaqarClient } from './zaqar-client.js';

/** A backend that can be asked to push to the gateway (a Zaqar-style subscription). */
export interface PushSubscription {
  backendId: string;
  /** How long one subscription lasts; renew before. */
  ttlMs: number;
  /** (Re)subscribes the gateway's ingest URL; returns the subscription id. */
  subscribe(): Promise<string>;
}

/** The sources a strategy may read, by capability. */
export interface SourceCatalog {
  /** Every backend this strategy reads. */
  instances(): InstanceSource[];
  /** Those that group instances into deployments they list and show (Heat). */
  deployments(): DeploymentSource[];
  get(backendId: string): InstanceSource | undefined;
  /** Those that accept a push subscription. */
  pushSubscriptions(): PushSubscription[];
}

export type BackendPing = Awaited<ReturnType<typeof pingBackends>>[number];

export interface BackendRegistryDeps {
  logger: Logger;
  metrics: Metrics;
  /** The cache, for Deltacloud's attribution of instances to deployments. */
  cache: CacheReader;
  /** The URL a backend must POST pushes for `backendId` to. */
  ingestUrl: (backendId: string) => string;
  /** Retry base delay of every client (tests use a tiny one). */
  retryBaseDelayMs?: number;
}

export class BackendRegistry {
  private configs: readonly BackendConfig[] = [];
  private clientMap: BackendClients = new Map();
  private sourceMap = new Map<string, InstanceSource>();
  private pingCache: { at: number; results: BackendPing[] } | undefined;

  constructor(private readonly deps: BackendRegistryDeps) {}

  static fromConfig(config: Config, deps: BackendRegistryDeps): BackendRegistry {
    const registry = new BackendRegistry(deps);
    registry.reconfigure(config.backends);
    return registry;
  }

  /**
   * Rebuilds the clients when the backend configs changed; true when they did. A backend's
   * `strategy` is not the client's business (the runtime switches it), so it is not compared.
   */
  reconfigure(configs: readonly BackendConfig[]): boolean {
    const clientPart = (list: readonly BackendConfig[]) => JSON.stringify(list.map(({ strategy: _strategy, ...rest }) => rest));
    if (this.clientMap.size > 0 && clientPart(configs) === clientPart(this.configs)) {
      this.configs = configs;
      return false;
    }
    this.configs = configs;
    this.clientMap = createBackendClients(configs, this.deps.logger, this.deps.metrics, {
      ...(this.deps.retryBaseDelayMs !== undefined ? { retryBaseDelayMs: this.deps.retryBaseDelayMs } : {}),
    });
    this.sourceMap = new Map([...this.clientMap].map(([id, client]) => [id, this.sourceOf(client)]));
    this.pingCache = undefined;
    return true;
  }

  private sourceOf(client: BackendClient): InstanceSource {
    return client.kind === 'heat' ? new HeatSource(client) : new DeltacloudSource(client, this.deps.cache);
  }

  /** Clients by backend id. */
  get clients(): BackendClients {
    return this.clientMap;
  }

  /** Backend configs in config order. */
  get backends(): readonly BackendConfig[] {
    return this.configs;
  }

  /** The sources of the backends `include` accepts (all by default), by capability. */
  catalog(include: (backendId: string) => boolean = () => true): SourceCatalog {
    const sources = () => [...this.sourceMap.values()].filter((s) => include(s.backendId));
    return {
      instances: sources,
      deployments: () => sources().filter(isDeploymentSource),
      get: (id) => (include(id) ? this.sourceMap.get(id) : undefined),
      pushSubscriptions: () => sources().flatMap((s) => this.pushSubscription(s.backendId)),
    };
  }

  private pushSubscription(backendId: string): PushSubscription[] {
    const client = this.clientMap.get(backendId);
    const push = client?.config.push;
    if (client?.kind !== 'heat' || !push?.subscriptionUrl) return [];
    const subscriptionUrl = push.subscriptionUrl;
    const zaqar = new ZaqarClient(client);
    return [
      {
        backendId,
        ttlMs: push.subscriptionTtlMs,
        subscribe: () => {
          const options: Record<string, unknown> = {};
          if (push.signingSecret) options.secret = push.signingSecret;
          if (push.token) options.post_headers = { Authorization: `Bearer ${push.token}` };
          return zaqar.subscribe(subscriptionUrl, { subscriber: this.deps.ingestUrl(backendId), ttlSeconds: Math.ceil(push.subscriptionTtlMs / 1_000), options });
        },
      },
    ];
  }

  /** Backend pings, cached briefly so probes do not load the backends. */
  async pings(): Promise<BackendPing[]> {
    const now = Date.now();
    if (!this.pingCache || now - this.pingCache.at > 10_000) this.pingCache = { at: now, results: await pingBackends(this.clientMap) };
    return this.pingCache.results;
  }

  /** One `/readyz` check per backend. */
  readiness(): ReadinessCheck[] {
    return [...this.clientMap.values()].map((client) => ({
      name: `backend:${client.id}`,
      timeoutMs: Math.min(client.config.timeoutMs, 3_000),
      check: async () => {
        const mine = (await this.pings()).find((r) => r.id === client.id);
        if (!mine?.ok) throw new Error(mine?.error ?? 'not checked');
      },
    }));
  }
}
