/**
 * Real RabbitMQ for integration tests: one private `rabbitmq-server` node per test file
 * (free ports, its own epmd, a temp dir), stopped by PID in `after`. `useRabbitMQ()` gives
 * each test a fresh queue name, deleted afterwards.
 */
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { LocalRabbitMQServer } from '../../src/push/local-rabbitmq-server.js';

export function useRabbitMQ(): { server: LocalRabbitMQServer; url: string; queue: string } {
  const ctx = {} as { server: LocalRabbitMQServer; url: string; queue: string };
  before(async function () {
    this.timeout(90_000);
    ctx.server = await LocalRabbitMQServer.start();
    ctx.url = ctx.server.url;
  });
  beforeEach(() => {
    ctx.queue = `heat-gateway.test-${randomBytes(4).toString('hex')}`;
  });
  after(async function () {
    this.timeout(60_000);
    await ctx.server?.stop();
  });
  return ctx;
}

/** Publishes oslo messages (messagingv2 envelope, persistent) and waits for the broker's confirms. */
export async function publishNotifications(url: string, messages: { exchange: string; routingKey: string; message: unknown }[]): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    for (const exchange of new Set(messages.map((m) => m.exchange))) await channel.assertExchange(exchange, 'topic', { durable: false });
    for (const m of messages) {
      const body = JSON.stringify({ 'oslo.version': '2.0', 'oslo.message': JSON.stringify(m.message) });
      channel.publish(m.exchange, m.routingKey, Buffer.from(body), { persistent: true, contentType: 'application/json' });
    }
    await channel.waitForConfirms();
  } finally {
    await connection.close();
  }
}

/** A versioned `instance.update` for one server at `atMs` (fields from Nova's sample). */
export function instanceUpdate(serverId: string, vmState: string, taskState: string | null, atMs: number): { exchange: string; routingKey: string; message: unknown } {
  return {
    exchange: 'nova',
    routingKey: 'versioned_notifications.info',
    message: {
      message_id: randomBytes(16).toString('hex'),
      event_type: 'instance.update',
      priority: 'INFO',
      publisher_id: 'nova-compute:test',
      timestamp: new Date(atMs).toISOString().replace('T', ' ').replace('Z', '000'),
      payload: {
        'nova_object.name': 'InstanceUpdatePayload',
        'nova_object.namespace': 'nova',
        'nova_object.version': '1.1',
        'nova_object.data': { uuid: serverId, state: vmState, task_state: taskState, power_state: 'running' },
      },
    },
  };
}
