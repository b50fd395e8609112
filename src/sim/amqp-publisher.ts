/**
 * The simulated cloud's notification bus: every world change is published to a RabbitMQ as
 * the real services publish it with `[oslo_messaging_notifications] driver = messagingv2`:
 * the v2 envelope (`{"oslo.version": "2.0", "oslo.message": "<json>"}`) on the service's
 * control exchange (`heat`, `nova`, topic exchanges declared as oslo.messaging does), routing
 * key `<topic>.<priority>`.
 *
 * - Heat: `orchestration.stack.<action>.<start|end|error>` (heat/engine/notification/stack.py;
 *   failures at ERROR priority, so on `notifications.error`), payload as
 *   heat/engine/api.py `format_notification_body` builds it.
 * - Nova, `legacy`: `compute.instance.update` (and `compute.instance.delete.end` once deleted)
 *   on `notifications.info`; `versioned`: `instance.update` / `instance.delete.end` on
 *   `versioned_notifications.info`; `both` sends both, as `notification_format = both` does.
 *
 * Optionally each Nova change is also POSTed to a URL as Aodh's REST alarm notifier posts an
 * event alarm on `compute.instance.*` (aodh/notifier/rest.py).
 */
import { randomUUID } from 'node:crypto';
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { SimContext } from './sim-context.js';
import { computeInstanceUpdate, osloEnvelope, vmState } from './nova-views.js';
import type { SimServer, SimStack, WorldNotice } from './scenario-world.js';

export type NovaNotificationFormat = 'legacy' | 'versioned' | 'both';

export interface NotificationPublisherOptions {
  /** RabbitMQ to publish to; unset: no AMQP. */
  amqpUrl?: string;
  /** @defaultValue 'legacy' (Nova's own default, `notification_format = both`, sends legacy and versioned) */
  novaFormat?: NovaNotificationFormat;
  /** Aodh-style alarm bodies are POSTed here for every Nova change; unset: none. */
  aodhUrl?: string;
}

export interface NotificationPublisher {
  /** Messages published (AMQP) and alarm bodies posted (Aodh). */
  counts(): { published: number; posted: number; failed: number };
  /** Resolves once everything published so far is confirmed by the broker and posted. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

const STACK_TYPE = 'OS::Heat::Stack';
const SUFFIX: Record<string, string> = { IN_PROGRESS: 'start', COMPLETE: 'end', FAILED: 'error' };

/** `str(datetime.utcnow())`, as oslo.messaging stamps notifications. */
function pyTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.(\d{3})Z$/, '.$1000');
}

function heatIsotime(ms: number | null): string | null {
  return ms === null ? null : new Date(Math.floor(ms / 1_000) * 1_000).toISOString().replace('.000Z', 'Z');
}

function message(ctx: SimContext, eventType: string, priority: string, publisher: string, payload: unknown, atMs: number): Record<string, unknown> {
  return {
    message_id: randomUUID(),
    publisher_id: publisher,
    event_type: eventType,
    priority,
    payload,
    timestamp: pyTime(atMs),
    _context_request_id: `req-${randomUUID()}`,
    _context_project_id: ctx.credentials.projectId,
    _context_user_id: ctx.userId,
  };
}

function stackNotification(ctx: SimContext, stack: SimStack, atMs: number): { message: Record<string, unknown>; priority: string } {
  const priority = stack.status === 'FAILED' ? 'ERROR' : 'INFO';
  const payload = {
    tenant_id: ctx.credentials.projectId,
    user_id: ctx.credentials.username,
    user_identity: ctx.userId,
    username: ctx.credentials.username,
    stack_identity: stack.id,
    stack_name: stack.name,
    state: `${stack.action}_${stack.status}`,
    state_reason: stack.statusReason,
    create_at: heatIsotime(stack.createdAtMs),
    tags: null,
    updated_at: heatIsotime(stack.updatedAtMs),
    description: 'Simulated deployment',
  };
  const eventType = `orchestration.stack.${stack.action.toLowerCase()}.${SUFFIX[stack.status]}`;
  return { message: message(ctx, eventType, priority, 'orchestration.sim-host', payload, atMs), priority };
}

/** InstanceUpdatePayload / InstanceActionPayload (nova/notifications/objects/instance.py), the fields a consumer reads. */
function versionedPayload(ctx: SimContext, server: SimServer, oldStatus: string | null, oldTask: string | null, update: boolean): Record<string, unknown> {
  const data: Record<string, unknown> = {
    uuid: server.id,
    display_name: server.name,
    host_name: server.name,
    state: vmState(server.novaStatus),
    task_state: server.taskState,
    power_state: server.novaStatus === 'ACTIVE' || server.novaStatus === 'REBOOT' ? 'running' : server.novaStatus === 'SHUTOFF' ? 'shutdown' : 'pending',
    tenant_id: ctx.credentials.projectId,
    user_id: ctx.userId,
    metadata: { 'heat-stack-id': server.deploymentId, 'heat-resource': server.resourceName },
    ip_addresses: server.networked
      ? [{ 'nova_object.name': 'IpPayload', 'nova_object.namespace': 'nova', 'nova_object.version': '1.0', 'nova_object.data': { address: server.fixedIp, label: 'private', mac: server.mac, version: 4, meta: {}, port_uuid: null, device_name: null } }]
      : [],
    created_at: heatIsotime(server.createdAtMs),
    launched_at: heatIsotime(server.launchedAtMs),
  };
  if (update) {
    data.state_update = {
      'nova_object.name': 'InstanceStateUpdatePayload',
      'nova_object.namespace': 'nova',
      'nova_object.version': '1.0',
      'nova_object.data': { old_state: oldStatus, old_task_state: oldTask, new_task_state: server.taskState, state: data.state },
    };
  }
  return { 'nova_object.name': update ? 'InstanceUpdatePayload' : 'InstanceActionPayload', 'nova_object.namespace': 'nova', 'nova_object.version': '1.1', 'nova_object.data': data };
}

/** What the notices of one world change become: (exchange, routing key, message) triples. */
export function notificationsFor(ctx: SimContext, notice: WorldNotice, novaFormat: NovaNotificationFormat): { exchange: string; routingKey: string; message: Record<string, unknown> }[] {
  if (notice.type === 'heat-event') {
    if (notice.event.resourceType !== STACK_TYPE) return [];
    const { message: m, priority } = stackNotification(ctx, notice.stack, notice.event.atMs);
    return [{ exchange: 'heat', routingKey: `notifications.${priority.toLowerCase()}`, message: m }];
  }
  const out: { exchange: string; routingKey: string; message: Record<string, unknown> }[] = [];
  const { server, atMs } = notice;
  const deleted = server.novaStatus === 'DELETED';
  if (novaFormat !== 'versioned') {
    out.push({ exchange: 'nova', routingKey: 'notifications.info', message: computeInstanceUpdate(ctx, notice) });
    if (deleted) {
      const update = computeInstanceUpdate(ctx, notice);
      out.push({ exchange: 'nova', routingKey: 'notifications.info', message: { ...update, message_id: randomUUID(), event_type: 'compute.instance.delete.end' } });
    }
  }
  if (novaFormat !== 'legacy') {
    const oldState = notice.oldStatus === null ? null : vmState(notice.oldStatus);
    const publisher = 'nova-compute:compute-1';
    out.push({ exchange: 'nova', routingKey: 'versioned_notifications.info', message: message(ctx, 'instance.update', 'INFO', publisher, versionedPayload(ctx, server, oldState, notice.oldTaskState, true), atMs) });
    if (deleted) {
      out.push({ exchange: 'nova', routingKey: 'versioned_notifications.info', message: message(ctx, 'instance.delete.end', 'INFO', publisher, versionedPayload(ctx, server, oldState, notice.oldTaskState, false), atMs) });
    }
  }
  return out;
}

/** Aodh's REST notifier body for an event alarm that matched a `compute.instance.*` event. */
export function aodhAlarmBody(ctx: SimContext, notice: Extract<WorldNotice, { type: 'nova-update' }>): Record<string, unknown> {
  const { server } = notice;
  const eventType = server.novaStatus === 'DELETED' ? 'compute.instance.delete.end' : 'compute.instance.update';
  const messageId = randomUUID();
  return {
    alarm_name: 'conductor-instance-events',
    alarm_id: 'b3a9f7b2-0a54-4f41-9a53-6a7c5d0e3f10',
    severity: 'low',
    previous: 'alarm',
    current: 'alarm',
    reason: `Event <id=${messageId},event_type=${eventType}> hits the query <query=[]>.`,
    reason_data: {
      type: 'event',
      event: {
        message_id: messageId,
        event_type: eventType,
        generated: new Date(notice.atMs).toISOString().replace('Z', '000'),
        traits: [
          ['tenant_id', 1, ctx.credentials.projectId],
          ['instance_id', 1, server.id],
          ['display_name', 1, server.name],
          ['state', 1, vmState(server.novaStatus)],
          ...(notice.oldStatus ? [['old_state', 1, vmState(notice.oldStatus)]] : []),
          ['service', 1, 'compute'],
        ],
        raw: {},
      },
    },
  };
}

/** Subscribes to the world and publishes (and posts) every change in order. */
export async function startNotificationPublisher(ctx: SimContext, options: NotificationPublisherOptions): Promise<NotificationPublisher> {
  const counts = { published: 0, posted: 0, failed: 0 };
  let connection: ChannelModel | undefined;
  let channel: ConfirmChannel | undefined;
  if (options.amqpUrl) {
    connection = await amqp.connect(options.amqpUrl);
    connection.on('error', () => undefined);
    channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    for (const exchange of ['heat', 'nova']) await channel.assertExchange(exchange, 'topic', { durable: false });
  }
  const posts = new Set<Promise<void>>();
  let closed = false;
  const format = options.novaFormat ?? 'legacy';
  const unsubscribe = ctx.world.onNotice((notice) => {
    if (closed) return;
    if (channel) {
      for (const n of notificationsFor(ctx, notice, format)) {
        const body = Buffer.from(JSON.stringify(osloEnvelope(n.message)));
        channel.publish(n.exchange, n.routingKey, body, { persistent: true, contentType: 'application/json', contentEncoding: 'utf-8' }, (err) => {
          if (err) counts.failed += 1;
          else counts.published += 1;
        });
      }
    }
    if (options.aodhUrl && notice.type === 'nova-update') {
      const p = fetch(options.aodhUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(aodhAlarmBody(ctx, notice)), signal: AbortSignal.timeout(10_000) })
        .then(async (res) => {
          await res.arrayBuffer();
          if (res.ok) counts.posted += 1;
          else counts.failed += 1;
        })
        .catch(() => void (counts.failed += 1))
        .finally(() => posts.delete(p));
      posts.add(p);
    }
  });
  return {
    counts: () => ({ ...counts }),
    async idle() {
      await channel?.waitForConfirms();
      await Promise.allSettled([...posts]);
    },
    async close() {
      closed = true;
      unsubscribe();
      await Promise.allSettled([...posts]);
      await channel?.waitForConfirms().catch(() => undefined);
      await connection?.close().catch(() => undefined);
    },
  };
}
