/**
 * One client per configured backend, keyed by backend id. Strategies and `/readyz` get the
 * map; `kind` tells which API a client speaks.
 */
import type { BackendConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { type BackendObserver, noopObserver } from './backend-http.js';
import { DeltacloudClient } from './deltacloud-client.js';
import { HeatClient } from './heat-client.js';

export type BackendClient = HeatClient | DeltacloudClient;
export type BackendClients = ReadonlyMap<string, BackendClient>;

export interface CreateBackendClientsOptions {
  /** Retry base delay for every client (tests use a tiny one). */
  retryBaseDelayMs?: number;
}

export function createBackendClients(
  configs: readonly BackendConfig[],
  logger: Logger,
  observer: BackendObserver = noopObserver,
  options: CreateBackendClientsOptions = {},
): BackendClients {
  const clients = new Map<string, BackendClient>();
  for (const cfg of configs) {
    if (clients.has(cfg.id)) throw new Error(`backends: id '${cfg.id}' is used twice; backend ids must be unique`);
    const common = {
      logger,
      observer,
      ...(options.retryBaseDelayMs !== undefined ? { retryBaseDelayMs: options.retryBaseDelayMs } : {}),
    };
    clients.set(cfg.id, cfg.kind === 'heat' ? new HeatClient(cfg, common) : new DeltacloudClient(cfg, common));
  }
  return clients;
}

/** Pings every client; the readiness probe reports each backend's outcome. */
export async function pingBackends(
  clients: BackendClients,
): Promise<{ id: string; kind: BackendClient['kind']; ok: boolean; error?: string }[]> {
  return Promise.all(
    [...clients.values()].map(async (c) => {
      try {
        await c.ping();
        return { id: c.id, kind: c.kind, ok: true };
      } catch (err) {
        return { id: c.id, kind: c.kind, ok: false, error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}
