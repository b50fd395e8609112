import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { Config } from '../../../src/config/schema.js';
import type { Gateway } from '../../../src/gateway.js';
import { createWebhookModule, type WebhookModule } from '../../../src/webhooks/create-webhook-module.js';
import { startTestGateway, testConfig, TOKENS } from '../../helpers/gateway.js';
import { deletePrefix, waitFor } from '../../helpers/redis.js';
import { api, startReceiver, verify, type Receiver } from '../../helpers/webhook-receiver.js';
import { instanceObs } from '../../helpers/observations.js';

const FAST = { retryScheduleMs: [0, 50, 100, 200], jitter: 0, allowNetworks: ['127.0.0.0/8', '::1/128'], timeoutMs: 2_000 };

async function webhookConfig(webhooks: Record<string, unknown> = {}): Promise<Config> {
  const base = await testConfig();
  return { ...base, webhooks: { ...base.webhooks, ...FAST, ...webhooks } as Config['webhooks'] };
}

describe('webhook delivery', function () {
  this.timeout(30_000);
  let gateway: Gateway;
  let url: string;
  let module: WebhookModule;
  let receiver: Receiver;

  beforeEach(async () => {
    receiver = await startReceiver();
    const started = await startTestGateway({
      config: await webhookConfig(),
      modules: [(gw) => (module = createWebhookModule(gw, { claimIdleMs: 1_000, leaseMs: 2_000 }))],
    });
    gateway = started.gateway;
    url = started.url;
  });

  afterEach(async () => {
    await gateway.stop();
    await receiver.close();
    const redis = new Redis(gateway.config.redis.url);
    await deletePrefix(redis, gateway.config.redis.keyPrefix);
    await redis.quit();
  });

  async function register(body: Record<string, unknown> = {}) {
    const res = await api(url, TOKENS.client, 'POST', '/v1/webhooks', { url: `${receiver.url}/hook`, ...body });
    expect(res.status, JSON.stringify(res.json)).to.equal(201);
    return res.json as { id: string; secret: string };
  }

  it('delivers a cache change signed per Standard Webhooks', async () => {
    const hook = await register();
    expect(hook.secret).to.match(/^whsec_[A-Za-z0-9+/]{43}=$/);
    await gateway.store.observeInstance(instanceObs(), { source: 'test' });
    await waitFor(() => receiver.received.length === 1, { what: 'one delivery' });
    const r = receiver.received[0]!;
    const payload = verify(hook.secret, r);
    expect(payload.type).to.equal('instance.created');
    expect(payload.data.current.version).to.equal(1);
    expect(payload.data.id).to.equal('srv-1');
    expect(r.headers['webhook-id']).to.match(/^evt_/);
    expect(r.headers['content-type']).to.equal('application/json');
  });
});
