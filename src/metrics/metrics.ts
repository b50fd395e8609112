/**
 * Every Prometheus metric of the gateway, in one registry per process (so tests can run
 * several gateways side by side). Modules get this object and record; `/metrics` serves it.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BackendObserver, BackendRequestEvent } from '../backends/backend-http.js';

export class Metrics implements BackendObserver {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'hgw_http_request_duration_seconds',
    help: 'HTTP request latency by route template, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly backendRequests = new Counter({
    name: 'hgw_backend_requests_total',
    help: 'Backend HTTP attempts by backend, call and outcome (HTTP status or error reason)',
    labelNames: ['backend', 'call', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly backendErrors = new Counter({
    name: 'hgw_backend_errors_total',
    help: 'Failed backend attempts by backend, call and reason',
    labelNames: ['backend', 'call', 'reason'] as const,
    registers: [this.registry],
  });

  readonly backendDuration = new Histogram({
    name: 'hgw_backend_request_duration_seconds',
    help: 'Backend request latency by backend and call',
    labelNames: ['backend', 'call'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly backendBytes = new Counter({
    name: 'hgw_backend_response_bytes_total',
    help: 'Response bytes received from backends',
    labelNames: ['backend', 'call'] as const,
    registers: [this.registry],
  });

  readonly pollRuns = new Counter({
    name: 'hgw_poll_runs_total',
    help: 'Strategy poll/refresh runs by strategy, backend and outcome (ok, error)',
    labelNames: ['strategy', 'backend', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly observations = new Counter({
    name: 'hgw_observations_total',
    help: 'Observations written to the cache by source and outcome (changed, refreshed, stale, ignored)',
    labelNames: ['source', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly ownershipIgnored = new Counter({
    name: 'hgw_ownership_ignored_total',
    help: 'Observations of an instance ignored because another backend owns it (a Heat and a Deltacloud backend seeing one server)',
    labelNames: ['backend', 'owner'] as const,
    registers: [this.registry],
  });

  readonly feedAppends = new Counter({
    name: 'hgw_feed_appends_total',
    help: 'Events appended to the change feed by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  readonly deliveries = new Counter({
    name: 'hgw_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome (delivered, failed, dead_lettered, disabled)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly deliveryDuration = new Histogram({
    name: 'hgw_webhook_delivery_duration_seconds',
    help: 'Webhook delivery attempt latency',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly cacheAge = new Gauge({
    name: 'hgw_cache_oldest_observation_age_seconds',
    help: 'Age of the oldest observation served by the last read, per resource kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly rateLimited = new Counter({
    name: 'hgw_rate_limited_requests_total',
    help: 'Requests refused with 429 by the per-token rate limit, by token name',
    labelNames: ['token'] as const,
    registers: [this.registry],
  });

  readonly eventStreams = new Gauge({
    name: 'hgw_event_streams_open',
    help: 'Server-Sent Events streams (GET /v1/events/stream) open in this process',
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) {
      // prom-client's default metrics already start with process_ / nodejs_: prefix them once
      // (hgw_process_cpu_seconds_total, not hgw_process_process_…).
      collectDefaultMetrics({ register: this.registry, prefix: 'hgw_' });
      // These three are gauges named *_total, which Prometheus reserves for counters
      // (promtool refuses them); the same counts by type remain (hgw_nodejs_active_handles…).
      for (const name of ['hgw_nodejs_active_handles_total', 'hgw_nodejs_active_requests_total', 'hgw_nodejs_active_resources_total']) {
        this.registry.removeSingleMetric(name);
      }
    }
  }

  /** BackendObserver: the backend clients report every attempt here. */
  onRequest(e: BackendRequestEvent): void {
    const outcome = e.error ?? String(e.status ?? 'none');
    this.backendRequests.inc({ backend: e.backend, call: e.call, outcome });
    this.backendDuration.observe({ backend: e.backend, call: e.call }, e.durationMs / 1_000);
    if (e.bytes > 0) this.backendBytes.inc({ backend: e.backend, call: e.call }, e.bytes);
    if (e.error) this.backendErrors.inc({ backend: e.backend, call: e.call, reason: e.error });
  }
}
