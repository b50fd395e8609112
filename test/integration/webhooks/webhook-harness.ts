/** Shared setup of the webhook integration tests: a gateway with the module, receivers, feed helpers. */
import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { Config } from '../../../src/config/schema.js';
import type { Gateway } from '../../../src/gateway.js';
import { createWebhookModule, type WebhookModule, type WebhookModuleOptions } from '../../../src/webhooks/create-webhook-module.js';
import { startTestGateway, testConfig, TOKENS } from '../../helpers/gateway.js';
import { deletePrefix } from '../../helpers/redis.js';
import { api, startReceiver, type Behaviour, type Receiver } from '../../helpers/webhook-receiver.js';

export const FAST_WEBHOOKS = { retryScheduleMs: [0, 50, 100, 200], jitter: 0, allowNetworks: ['127.0.0.0/8', '::1/128'], timeoutMs: 2_000 };

export interface Harness {
  gateway: Gateway;
  url: string;
  module: WebhookModule;
  receivers: Receiver[];
  receiver(behaviour?: Behaviour): Promise<Receiver>;
  register(body: Record<string, unknown>): Promise<{ id: string; secret: string }>;
  call(method: string, path: string, body?: unknown): ReturnType<typeof api>;
  /** Appends `n` instance events (subject `subject`, versions 1..n) to the feed; returns their ids in order. */
  append(n: number, subject?: string, deploymentId?: string): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startHarness(
  webhooks: Record<string, unknown> = {},
  options: WebhookModuleOptions & { now?: () => number } = {},
): Promise<Harness> {
  const base = await testConfig();
  const config: Config = { ...base, webhooks: { ...base.webhooks, ...FAST_WEBHOOKS, ...webhooks } as Config['webhooks'] };
  let module!: WebhookModule;
  const { now, ...moduleOptions } = options;
  const { gateway, url } = await startTestGateway({
    config,
    modules: [(gw) => (module = createWebhookModule(gw, { claimIdleMs: 1_000, leaseMs: 2_000, ...moduleOptions }))],
    ...(now ? { now } : {}),
  });
  const h: Harness = {
    gateway,
    url,
    module,
    receivers: [],
    async receiver(behaviour) {
      const r = await startReceiver(behaviour);
      h.receivers.push(r);
      return r;
    },
    call: (method, path, body) => api(url, TOKENS.client, method, path, body),
    async register(body) {
      const res = await h.call('POST', '/v1/webhooks', body);
      expect(res.status, JSON.stringify(res.json)).to.equal(201);
      return res.json as { id: string; secret: string };
    },
    async append(n, subject = 'srv-1', deploymentId = 'stack-1') {
      const ids: string[] = [];
      for (let start = 0; start < n; start += 100) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(100, n - start) }, (_, i) =>
            gateway.feed.append('instance.updated', { current: { id: subject, version: start + i + 1 }, previous: null }, { subject, deploymentId }),
          ),
        );
        // Promise.all keeps call order, and one connection keeps command order: ids are in feed order.
        ids.push(...batch.map((b) => b.id));
      }
      return ids;
    },
    async stop() {
      await gateway.stop();
      await Promise.all(h.receivers.map((r) => r.close()));
      const redis = new Redis(config.redis.url);
      await deletePrefix(redis, config.redis.keyPrefix);
      await redis.quit();
    },
  };
  return h;
}
