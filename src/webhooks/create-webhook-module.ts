/**
 * The webhook module: registry routes, the feed fan-out and the delivery workers of one
 * gateway process. Every replica runs it; Redis holds all state.
 */
import type { GatewayModule, ModuleDeps } from '../gateway.js';
import type { Config } from '../config/schema.js';
import { DeliveryQueue } from './delivery-queue.js';
import { DeliveryWorker } from './delivery-worker.js';
import { retryDelayMs } from './attempt-outcome.js';
import { CONSUMER_GROUP, FeedFanout } from './feed-fanout.js';
import { SsrfGuard, systemResolver, type Resolver } from './ssrf-guard.js';
import { declareWebhookRoutes } from './webhook-routes.js';
import { WebhookSender } from './webhook-sender.js';
import { WebhookService } from './webhook-service.js';

export interface WebhookModuleOptions {
  /** DNS for the SSRF guard, at registration and at connect time. @defaultValue the system resolver */
  resolver?: Resolver;
  /** Feed entries pending this long with a consumer are claimed back. @defaultValue 1000 */
  claimIdleMs?: number;
  /** Fan-out leader lease. @defaultValue 1000 */
  leaseMs?: number;
  /** BullMQ lock of an attempt in flight (renewed while alive). @defaultValue 2000 */
  lockDurationMs?: number;
  /** A new delivery sent before it is recorded is recorded with an answer this quick (DeliveryWorker.attemptNew). @defaultValue 100 */
  recordWithAnswerMs?: number;
  /**
   * Deliver from the fan-out on the happy path (see feed-fanout.ts); false: every delivery is
   * a BullMQ job. @defaultValue true
   */
  direct?: boolean;
  /** Run the fan-out and the delivery workers (false: routes only). @defaultValue true */
  background?: boolean;
}

export interface WebhookModule extends GatewayModule {
  readonly service: WebhookService;
  readonly fanout: FeedFanout;
  readonly queue: DeliveryQueue;
  /** True when every feed event was fanned out and no delivery job is outstanding. */
  idle(): Promise<boolean>;
}

export function createWebhookModule(deps: ModuleDeps, options: WebhookModuleOptions = {}): WebhookModule {
  const { stores } = deps;
  const keys = stores.keys.webhooks;
  const config = (): Config['webhooks'] => deps.config().webhooks;
  let guard = new SsrfGuard(config().allowNetworks, options.resolver ?? systemResolver);
  const ttlSeconds = () => {
    const c = deps.config();
    const retries = c.webhooks.retryScheduleMs.reduce((a, b) => a + b, 0) * (1 + c.webhooks.jitter);
    return Math.ceil(Math.max(c.feed.maxAgeMs, retries + 86_400_000) / 1_000);
  };
  const registry = stores.webhooks;
  const deliveries = stores.deliveries(() => ({ ttlSeconds: ttlSeconds(), attemptLogLimit: config().attemptLogLimit }));
  const queue = new DeliveryQueue(stores.queue('webhook-queue'), keys.bull, deps.logger, () =>
    retryDelayMs(config().retryScheduleMs, 0, config().jitter),
  );
  const sender = new WebhookSender(() => guard, { maxSockets: Math.max(64, config().concurrency * 2), now: deps.now });
  const service = new WebhookService(registry, deliveries, queue, stores.feed, () => guard, config, deps.now);
  const worker = new DeliveryWorker({
    connection: stores.queue('webhook-worker', { blocking: true }),
    prefix: keys.bull,
    queue,
    deliveries,
    registry,
    sender,
    feed: stores.feed,
    metrics: deps.metrics,
    logger: deps.logger,
    config,
    now: deps.now,
    ...(options.lockDurationMs !== undefined ? { lockDurationMs: options.lockDurationMs } : {}),
    ...(options.recordWithAnswerMs !== undefined ? { recordWithAnswerMs: options.recordWithAnswerMs } : {}),
  });
  const fanout = new FeedFanout({
    group: stores.feed.group(CONSUMER_GROUP),
    leases: stores.leases,
    registry,
    deliveries,
    queue,
    logger: deps.logger,
    now: deps.now,
    ...(options.claimIdleMs !== undefined ? { claimIdleMs: options.claimIdleMs } : {}),
    ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
    ...(options.direct === false
      ? {}
      : {
          direct: {
            attempt: (spec, claimed) => worker.attemptDirect(spec, claimed),
            attemptNew: (spec, webhook, delivery, createdAtMs) => worker.attemptNew(spec, webhook, delivery, createdAtMs),
            leaseMs: () => worker.directLeaseMs(),
            // Paced endpoints and a delayed first attempt go through the queue.
            eligible: (webhook) => !webhook.maxPerSecond && (config().retryScheduleMs[0] ?? 0) === 0,
            concurrency: () => config().concurrency,
          },
        }),
  });
  const background = options.background ?? true;

  return {
    name: 'webhooks',
    service,
    fanout,
    queue,
    routes(api) {
      declareWebhookRoutes(api, service);
    },
    async start() {
      if (!background) return;
      await fanout.start();
      worker.start();
    },
    async stop() {
      if (background) {
        await fanout.stop();
        await worker.close();
      }
      await queue.close();
      sender.close();
    },
    configChanged(next, previous) {
      if (JSON.stringify(next.webhooks.allowNetworks) !== JSON.stringify(previous.webhooks.allowNetworks)) {
        guard = new SsrfGuard(next.webhooks.allowNetworks, guard.resolver);
      }
      if (next.webhooks.concurrency !== previous.webhooks.concurrency) worker.setConcurrency(next.webhooks.concurrency);
    },
    async idle() {
      return (await fanout.caughtUp()) && (await queue.outstanding()) === 0;
    },
  };
}
