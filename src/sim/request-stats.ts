/**
 * Request accounting: requests, response bytes, statuses and modeled backend work per route
 * template (`GET heat /stacks/:name/:id/resources`) and per API, plus push delivery counts.
 */

export interface EndpointStats {
  requests: number;
  responseBytes: number;
  /** Modeled backend work: one unit per call, one per server for detailed resource lists. */
  workUnits: number;
  statuses: Record<string, number>;
}

export interface PushStats {
  /** Messages the world produced for a live subscription. */
  produced: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  failed: number;
}

export interface StatsSnapshot {
  since: string;
  endpoints: Record<string, EndpointStats>;
  apis: Record<string, EndpointStats>;
  push: PushStats;
}

function empty(): EndpointStats {
  return { requests: 0, responseBytes: 0, workUnits: 0, statuses: {} };
}

function add(target: EndpointStats, bytes: number, work: number, status: number): void {
  target.requests += 1;
  target.responseBytes += bytes;
  target.workUnits += work;
  const key = String(status);
  target.statuses[key] = (target.statuses[key] ?? 0) + 1;
}

export class RequestStats {
  private endpoints = new Map<string, EndpointStats>();
  private apis = new Map<string, EndpointStats>();
  private sinceMs = Date.now();
  push: PushStats = { produced: 0, delivered: 0, dropped: 0, duplicated: 0, failed: 0 };

  /** `status` 0 means the connection was reset or never answered. */
  record(api: string, method: string, template: string, status: number, bytes: number, work: number): void {
    const key = `${method} ${api} ${template}`;
    let endpoint = this.endpoints.get(key);
    if (!endpoint) this.endpoints.set(key, (endpoint = empty()));
    add(endpoint, bytes, work, status);
    let total = this.apis.get(api);
    if (!total) this.apis.set(api, (total = empty()));
    add(total, bytes, work, status);
  }

  reset(): void {
    this.endpoints = new Map();
    this.apis = new Map();
    this.sinceMs = Date.now();
    this.push = { produced: 0, delivered: 0, dropped: 0, duplicated: 0, failed: 0 };
  }

  snapshot(): StatsSnapshot {
    return {
      since: new Date(this.sinceMs).toISOString(),
      endpoints: Object.fromEntries([...this.endpoints].map(([k, v]) => [k, structuredClone(v)])),
      apis: Object.fromEntries([...this.apis].map(([k, v]) => [k, structuredClone(v)])),
      push: { ...this.push },
    };
  }
}
