/**
 * A simulator publishing to a real RabbitMQ, plus gateways (replicas on one Redis prefix)
 * running the webhook strategy with `push.amqp` on the Heat backend.
 */
import type { BackendConfig, Config } from '../../../src/config/schema.js';
import type { Gateway } from '../../../src/gateway.js';
import { defaultModules } from '../../../src/modules.js';
import type { NovaNotificationFormat } from '../../../src/sim/amqp-publisher.js';
import { startSimulator, type Simulator } from '../../../src/sim/simulator.js';
import { startTestGateway, testConfig, TOKENS } from '../../helpers/gateway.js';
import { waitFor } from '../../helpers/redis.js';
import { api } from '../../helpers/webhook-receiver.js';
import { FAST_STRATEGY_OPTIONS, simBackends } from '../../helpers/world.js';

export const TOPICS = ['notifications.info', 'notifications.error', 'versioned_notifications.info'];

export interface PushWorld {
  sim: Simulator;
  config: Config;
  gateways: { gateway: Gateway; url: string }[];
  addReplica(): Promise<{ gateway: Gateway; url: string }>;
  close(): Promise<void>;
}

/** Heat backend of the simulator with pushes from RabbitMQ only (no Zaqar subscription). */
export function amqpBackends(sim: Simulator, amqpUrl: string, queue: string): BackendConfig[] {
  return simBackends(sim).map((b) =>
    b.kind === 'heat' ? ({ ...b, push: { amqp: { url: amqpUrl, queue, exchanges: ['heat', 'nova'], topics: TOPICS, prefetch: 50 } } } as BackendConfig) : b,
  );
}

export const PUSH_MODULE_OPTIONS = { checkMs: 100, amqp: { reconnectBaseMs: 100, reconnectMaxMs: 1_000, requeueDelayMs: 100 } };

export async function startPushWorld(amqpUrl: string, queue: string, options: { replicas?: number; novaFormat?: NovaNotificationFormat } = {}): Promise<PushWorld> {
  const sim = await startSimulator({
    clock: 'manual',
    startTime: new Date().toISOString(),
    seed: 7,
    deployments: 4,
    instancesPerDeployment: 3,
    notifications: { amqpUrl, novaFormat: options.novaFormat ?? 'versioned' },
  });
  const config = await testConfig({ backends: amqpBackends(sim, amqpUrl, queue), strategy: { name: 'webhook', ...FAST_STRATEGY_OPTIONS } });
  const gateways: { gateway: Gateway; url: string }[] = [];
  const addReplica = async () => {
    const started = await startTestGateway({
      config,
      modules: defaultModules({ strategies: { retryBaseDelayMs: 5, convergeCheckMs: 200 }, push: PUSH_MODULE_OPTIONS }),
    });
    gateways.push(started);
    await waitFor(async () => (await api(started.url, TOKENS.admin, 'GET', '/admin/status')).json.push?.amqp?.[0]?.state === 'consuming', {
      timeoutMs: 20_000,
      what: 'the AMQP consumer',
    });
    return started;
  };
  for (let i = 0; i < (options.replicas ?? 1); i++) await addReplica();
  const worldSize = sim.handle.world().instances.length;
  await waitFor(async () => (await gateways[0]!.gateway.store.counts()).instances >= worldSize, { timeoutMs: 20_000, what: 'the initial resync' });
  return {
    sim,
    config,
    gateways,
    addReplica,
    async close() {
      for (const g of gateways) await g.gateway.stop();
      await sim.close();
    },
  };
}
