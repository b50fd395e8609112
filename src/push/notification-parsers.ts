/**
 * What a pushed notification says, as updates the gateway can apply without asking the
 * backend. Formats, as the real services send them:
 *
 * - Heat `orchestration.stack.<action>.<start|end|error>` (heat/engine/notification/stack.py;
 *   payload keys from heat/rpc/api.py NOTIFY_KEYS: `stack_identity`, `stack_name`, `state`,
 *   `state_reason`, `tenant_id`, `create_at`, `updated_at`). Failures come at ERROR priority.
 * - Nova legacy `compute.instance.*` (nova/notifications/base.py `info_from_instance`:
 *   `instance_id`, `state` = vm_state, `state_description` = task_state; `compute.instance.update`
 *   adds `old_state`, `old_task_state`, `new_task_state`), `compute.instance.delete.end`.
 * - Nova versioned `instance.*` (`payload."nova_object.data"`: `uuid`, `state`, `task_state`,
 *   `power_state`, `state_update`, `ip_addresses`), e.g. `instance.update`, `instance.delete.end`.
 * - Aodh's REST alarm notifier body for an event alarm (aodh/notifier/rest.py; `reason_data`
 *   from aodh/evaluator/event.py: `{type: "event", event: {event_type, traits, message_id,
 *   generated}}`, traits `[name, type, value]` per Ceilometer's event_definitions.yaml).
 *
 * Each notification may arrive flat or inside oslo.messaging's v2 envelope
 * (`{"oslo.version": "2.0", "oslo.message": "<json>"}`).
 */
import { z } from 'zod';
import { InputError } from '../errors.js';
import { mapNovaVmState, novaApiStatus, type InstanceState } from '../model/states.js';
import type { PushHint } from '../strategy/strategy.js';
import { parsePush, parseStackIdentity } from './push-parser.js';

/** A server's new state, straight from the notification. */
export interface InstanceUpdate {
  kind: 'instance';
  backendId: string;
  event: string;
  instanceId: string;
  /** Heat's stack id when the server's metadata names it. */
  stackId?: string;
  state: InstanceState;
  /** Nova API status for the vm_state/task_state pair (the raw value the cache keeps). */
  rawStatus: string | null;
  /** Backend time of the notification, ms since epoch; null when it carries none. */
  atMs: number | null;
  /** Addresses when the notification lists them (`public` absent: the format cannot say). */
  addresses?: { public?: string[]; private: string[] };
}

/** A stack's new status, straight from a Heat notification. */
export interface StackUpdate {
  kind: 'stack';
  backendId: string;
  event: string;
  stackId: string;
  stackName?: string;
  /** Raw Heat stack status, e.g. CREATE_COMPLETE. */
  status: string;
  statusReason: string | null;
  /** Heat's own `updated_at`/`create_at` of the stack (what a stack show calls updated_time/creation_time). */
  heatUpdatedAt: string | null;
  atMs: number | null;
}

/** Something a push names but cannot describe: the gateway fetches it. */
export interface HintUpdate {
  kind: 'hint';
  hint: PushHint;
}

export type PushUpdate = InstanceUpdate | StackUpdate | HintUpdate;

/** A notification after the envelope is removed. */
export interface Notification {
  event_type: string;
  payload: Record<string, unknown>;
  timestamp?: unknown;
  priority?: unknown;
  publisher_id?: unknown;
}

/**
 * `doc` as a notification when it has an `event_type` (1–255 characters) and an object
 * `payload`; null otherwise. Checked by hand rather than with zod: every pushed notification
 * goes through this (and the envelope check) and a zod parse, which copies the whole
 * passthrough object, showed in the ingest profile.
 */
function asNotification(doc: unknown): Notification | null {
  if (!isObject(doc)) return null;
  const type = doc.event_type;
  if (typeof type !== 'string' || type.length === 0 || type.length > 255 || !isObject(doc.payload)) return null;
  return doc as unknown as Notification;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** oslo.messaging's v2 envelope's message, when `doc` is one (`oslo.version` and a JSON string `oslo.message`). */
function envelopedMessage(doc: unknown): string | undefined {
  if (!isObject(doc) || typeof doc['oslo.version'] !== 'string') return undefined;
  const message = doc['oslo.message'];
  return typeof message === 'string' && message.length <= 1_000_000 ? message : undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 && v.length <= 255 ? v : undefined);
const record = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/**
 * oslo timestamps are `str(datetime.utcnow())` (`2024-01-01 10:00:00.123456`, naive UTC);
 * Nova's versioned fields and Heat's isotime add a `T` and a `Z` or offset. → ms, or null.
 */
export function parseBackendTime(value: unknown): number | null {
  if (typeof value !== 'string' || value.length < 10 || value.length > 64) return null;
  let text = value.trim().replace(' ', 'T');
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(text)) text += 'Z';
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * The notification inside a document: the v2 envelope's `oslo.message`, or the document
 * itself when it is a flat notification; null when it is neither. A broken envelope is an
 * InputError naming `path`.
 */
export function unwrapNotification(doc: unknown, path = 'body'): Notification | null {
  const message = envelopedMessage(doc);
  if (message !== undefined) {
    let inner: unknown;
    try {
      inner = JSON.parse(message);
    } catch {
      throw new InputError('oslo.message is not JSON', [{ path: `${path}.oslo.message`, message: 'must be a JSON-encoded notification' }]);
    }
    const parsed = asNotification(inner);
    if (!parsed) {
      throw new InputError('oslo.message is not a notification', [{ path: `${path}.oslo.message`, message: 'must contain event_type and payload' }]);
    }
    return parsed;
  }
  return asNotification(doc);
}

const STACK_EVENT = /^orchestration\.stack\.([a-z_]+)\.(start|end|error)$/;
const SUFFIX_STATUS: Record<string, string> = { start: 'IN_PROGRESS', end: 'COMPLETE', error: 'FAILED' };

/** Updates in one notification; empty when it is about something the gateway does not track. */
export function parseNotification(backendId: string, n: Notification): PushUpdate[] {
  const atMs = parseBackendTime(n.timestamp);
  const p = n.payload;
  const stack = STACK_EVENT.exec(n.event_type);
  if (stack) {
    const identity = str(p.stack_identity) ?? str(p.stack_id);
    if (!identity) return [];
    const parsed = parseStackIdentity(identity);
    const name = parsed.name ?? str(p.stack_name);
    const state = str(p.state);
    // `state` is ACTION_STATUS ("Unknown" before the stack has one); the event type says the same.
    const status = state && /^[A-Z]+_[A-Z_]+$/.test(state) ? state : `${stack[1]!.toUpperCase()}_${SUFFIX_STATUS[stack[2]!]}`;
    const heatTime = parseBackendTime(p.updated_at) ?? parseBackendTime(p.create_at);
    return [
      {
        kind: 'stack',
        backendId,
        event: n.event_type,
        stackId: parsed.id,
        ...(name ? { stackName: name } : {}),
        status,
        statusReason: typeof p.state_reason === 'string' ? p.state_reason : null,
        heatUpdatedAt: heatTime === null ? null : new Date(heatTime).toISOString(),
        atMs,
      },
    ];
  }
  if (n.event_type.startsWith('compute.instance.')) return legacyNova(backendId, n.event_type, p, atMs);
  if (n.event_type.startsWith('instance.') && record(p['nova_object.data']).uuid !== undefined) {
    return versionedNova(backendId, n.event_type, record(p['nova_object.data']), atMs);
  }
  return [];
}

function instanceUpdate(
  backendId: string,
  event: string,
  instanceId: string,
  vmState: string,
  taskState: string | null,
  atMs: number | null,
  stackId?: string,
  addresses?: InstanceUpdate['addresses'],
): InstanceUpdate {
  const update: InstanceUpdate = {
    kind: 'instance',
    backendId,
    event,
    instanceId,
    state: mapNovaVmState(vmState, taskState),
    rawStatus: novaApiStatus(vmState, taskState) ?? vmState,
    atMs,
  };
  // Set only when known (one update per pushed server: no spread of throwaway objects).
  if (stackId) update.stackId = stackId;
  if (addresses) update.addresses = addresses;
  return update;
}

function heatStackOf(metadata: unknown): string | undefined {
  const m = record(metadata);
  // Heat tags the servers it creates; the tag names the stack without a lookup.
  return str(m['heat-stack-id']) ?? str(m['metering.stack']) ?? str(m['stack_id']);
}

const PUBLIC_NETWORK = /public|external|ext-net|internet/i;

function legacyNova(backendId: string, event: string, p: Record<string, unknown>, atMs: number | null): PushUpdate[] {
  const instanceId = str(p.instance_id);
  if (!instanceId) return [];
  const stackId = heatStackOf(p.metadata);
  const deleted = event === 'compute.instance.delete.end';
  const vmState = deleted ? 'deleted' : str(p.state);
  if (!vmState) return [{ kind: 'hint', hint: { backendId, event, instanceId, ...(stackId ? { stackId } : {}) } }];
  // compute.instance.update names the task it moved to; every other event the current one.
  const task = event === 'compute.instance.update' ? p.new_task_state : p.state_description;
  const taskState = typeof task === 'string' && task ? task : null;
  let addresses: InstanceUpdate['addresses'];
  if (Array.isArray(p.fixed_ips)) {
    const publicAddresses: string[] = [];
    const privateAddresses: string[] = [];
    for (const entry of p.fixed_ips) {
      const ip = record(entry);
      const address = str(ip.address);
      if (address) (PUBLIC_NETWORK.test(str(ip.label) ?? '') ? publicAddresses : privateAddresses).push(address);
      if (!Array.isArray(ip.floating_ips)) continue;
      for (const floating of ip.floating_ips) {
        const fa = str(record(floating).address);
        if (fa) publicAddresses.push(fa);
      }
    }
    addresses = { public: publicAddresses, private: privateAddresses };
  }
  return [instanceUpdate(backendId, event, instanceId, vmState, taskState, atMs, stackId, addresses)];
}

function versionedNova(backendId: string, event: string, data: Record<string, unknown>, atMs: number | null): PushUpdate[] {
  const instanceId = str(data.uuid);
  if (!instanceId) return [];
  const deleted = event === 'instance.delete.end';
  const vmState = deleted ? 'deleted' : str(data.state);
  const stackId = heatStackOf(data.metadata);
  if (!vmState) return [{ kind: 'hint', hint: { backendId, event, instanceId, ...(stackId ? { stackId } : {}) } }];
  const taskState = typeof data.task_state === 'string' && data.task_state ? data.task_state : null;
  let addresses: InstanceUpdate['addresses'];
  if (Array.isArray(data.ip_addresses)) {
    // IpPayload has no floating addresses: only the private side is known.
    const privateAddresses: string[] = [];
    for (const entry of data.ip_addresses) {
      const ip = record(record(entry)['nova_object.data']);
      const address = str(ip.address);
      if (address && !PUBLIC_NETWORK.test(str(ip.label) ?? '')) privateAddresses.push(address);
    }
    addresses = { private: privateAddresses };
  }
  return [instanceUpdate(backendId, event, instanceId, vmState, taskState, atMs, stackId, addresses)];
}

const aodhSchema = z
  .object({
    alarm_id: z.string().min(1).max(255),
    current: z.string().max(64),
    reason_data: z
      .object({
        type: z.literal('event'),
        event: z
          .object({
            event_type: z.string().min(1).max(255),
            traits: z.array(z.tuple([z.string(), z.unknown(), z.unknown()])).max(1_000).default([]),
            generated: z.string().max(64).optional(),
            message_id: z.string().max(255).optional(),
          })
          .passthrough(),
      })
      .passthrough(),
  })
  .passthrough();

/** True when the document looks like an Aodh alarm notification (it has `alarm_id` and `reason_data`). */
function isAodh(doc: unknown): boolean {
  const r = record(doc);
  return 'alarm_id' in r && 'reason_data' in r;
}

/**
 * An Aodh event-alarm body. Ceilometer's event traits carry the vm_state (`state`) but no
 * task_state, so a reboot in progress reads as running until the next notification.
 */
export function parseAodhAlarm(backendId: string, doc: unknown, path = 'body'): PushUpdate[] {
  const parsed = aodhSchema.safeParse(doc);
  if (!parsed.success) {
    throw new InputError('the Aodh alarm body is not an event alarm', [
      { path: `${path}.reason_data`, message: 'only event alarms are accepted: reason_data must be {type: "event", event: {event_type, traits}}' },
    ]);
  }
  const event = parsed.data.reason_data.event;
  const traits = new Map(event.traits.map(([name, , value]) => [name, value]));
  const atMs = parseBackendTime(event.generated);
  const eventType = event.event_type;
  if (eventType.startsWith('compute.instance.')) {
    const instanceId = str(traits.get('instance_id')) ?? str(traits.get('resource_id'));
    if (!instanceId) return [];
    const deleted = eventType === 'compute.instance.delete.end';
    const vmState = deleted ? 'deleted' : str(traits.get('state'));
    if (!vmState) return [{ kind: 'hint', hint: { backendId, event: eventType, instanceId } }];
    return [instanceUpdate(backendId, eventType, instanceId, vmState, null, atMs)];
  }
  if (eventType.startsWith('orchestration.stack.')) {
    const identity = str(traits.get('resource_id'));
    return identity ? [{ kind: 'hint', hint: { backendId, event: eventType, stackId: parseStackIdentity(identity).id } }] : [];
  }
  return [];
}

/**
 * Everything `POST /v1/notifications/:backendId` accepts: oslo notifications (flat or
 * enveloped), Aodh event-alarm bodies, Zaqar-delivered Heat event-sink messages (hints: they
 * name a resource but not the server's live status), or a list of them.
 */
export function parsePushBody(backendId: string, doc: unknown): PushUpdate[] {
  if (!Array.isArray(doc)) return parseOne(backendId, doc, 'body');
  if (doc.length > 1_000) throw new InputError('too many messages in one push', [{ path: 'body', message: 'send at most 1000 messages per request' }]);
  return doc.flatMap((d, i) => parseOne(backendId, d, `body.${i}`));
}

function parseOne(backendId: string, doc: unknown, path: string): PushUpdate[] {
  if (isAodh(doc)) return parseAodhAlarm(backendId, doc, path);
  const notification = unwrapNotification(doc, path);
  if (notification) return parseNotification(backendId, notification);
  const r = record(doc);
  if (r.type === 'os.heat.event' || record(r.body).type === 'os.heat.event') {
    return parsePush(backendId, doc).map((hint) => ({ kind: 'hint', hint }));
  }
  throw new InputError('the push is not a recognised notification', [
    {
      path,
      message:
        'send an oslo notification (event_type orchestration.stack.*, compute.instance.* or instance.*, flat or in the oslo.message envelope), an Aodh event-alarm body, a Heat event-sink message (body.type "os.heat.event"), or a list of them',
    },
  ]);
}
