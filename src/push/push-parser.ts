/**
 * Parses what backends push to `POST /v1/notifications/:backendId` into hints (which stack,
 * which server). Accepted, as the real systems send them:
 *
 * - a Zaqar-delivered Heat event-sink message: `{body: {type: "os.heat.event", payload:
 *   {stack_id, physical_resource_id, resource_name, …}}, ttl, queue_name}` (heat/engine/
 *   event.py `as_dict`, zaqar/notification/tasks/webhook.py), or a list of them, or the bare
 *   `body`;
 * - an oslo notification, flat `{event_type, payload, publisher_id, …}` or in the
 *   oslo.messaging v2 envelope `{"oslo.version": "2.0", "oslo.message": "<json>"}`, with
 *   `event_type` `orchestration.stack.*` (payload `stack_identity`/`stack_name`) or
 *   `compute.instance.*` (payload `instance_id`, and Heat's server metadata naming the stack).
 *
 * A push is only a hint: the gateway fetches the authoritative state of what it names.
 */
import { z } from 'zod';
import { InputError } from '../errors.js';
import type { PushHint } from '../strategy/strategy.js';

const heatEvent = z.object({
  type: z.literal('os.heat.event'),
  payload: z
    .object({
      stack_id: z.string().min(1).max(255),
      physical_resource_id: z.string().max(255).nullish(),
      resource_name: z.string().max(255).nullish(),
    })
    .passthrough(),
}).passthrough();

const zaqarMessage = z.object({ body: heatEvent }).passthrough();

const oslo = z
  .object({
    event_type: z.string().min(1).max(255),
    payload: z.record(z.string(), z.unknown()),
  })
  .passthrough();

const envelope = z.object({ 'oslo.version': z.string(), 'oslo.message': z.string().max(1_000_000) }).passthrough();

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 && v.length <= 255 ? v : undefined);

/** `arn:openstack:heat::<tenant>:stacks/<name>/<id>`, `<name>/<id>` or a bare id → {name?, id}. */
export function parseStackIdentity(identity: string): { id: string; name?: string } {
  const path = identity.includes('stacks/') ? identity.slice(identity.lastIndexOf('stacks/') + 'stacks/'.length) : identity;
  const parts = path.split('/').filter(Boolean);
  if (parts.length >= 2) return { name: parts[parts.length - 2]!, id: parts[parts.length - 1]! };
  return { id: parts[0] ?? identity };
}

function fromOslo(backendId: string, n: z.infer<typeof oslo>): PushHint[] {
  const p = n.payload;
  if (n.event_type.startsWith('orchestration.stack.')) {
    const identity = str(p.stack_identity) ?? str(p.stack_id);
    if (!identity) return [];
    const stack = parseStackIdentity(identity);
    const name = stack.name ?? str(p.stack_name);
    return [{ backendId, event: n.event_type, stackId: stack.id, ...(name ? { stackName: name } : {}) }];
  }
  if (n.event_type.startsWith('compute.instance.')) {
    const instanceId = str(p.instance_id);
    if (!instanceId) return [];
    const metadata = (typeof p.metadata === 'object' && p.metadata !== null ? p.metadata : {}) as Record<string, unknown>;
    // Heat tags the servers it creates; the tag names the stack without a lookup.
    const stackId = str(metadata['heat-stack-id']) ?? str(metadata['metering.stack']) ?? str(metadata['stack_id']);
    return [{ backendId, event: n.event_type, instanceId, ...(stackId ? { stackId } : {}) }];
  }
  return [];
}

function fromHeat(backendId: string, e: z.infer<typeof heatEvent>): PushHint {
  const physical = str(e.payload.physical_resource_id);
  return { backendId, event: e.type, stackId: e.payload.stack_id, ...(physical ? { instanceId: physical } : {}) };
}

/**
 * Hints in a pushed document. Throws InputError (400) when the document is none of the
 * accepted formats; a recognised notification that names nothing yields no hints.
 */
export function parsePush(backendId: string, doc: unknown): PushHint[] {
  if (!Array.isArray(doc)) return parseMessage(backendId, doc, 'body');
  if (doc.length > 1_000) throw new InputError('too many messages in one push', [{ path: 'body', message: 'send at most 1000 messages per request' }]);
  // Only one level: a list of messages. Anything nested deeper is not a push (and must not
  // cost a stack frame per level).
  return doc.flatMap((d, i) => parseMessage(backendId, d, `body.${i}`));
}

function parseMessage(backendId: string, doc: unknown, path: string): PushHint[] {
  const zaqar = zaqarMessage.safeParse(doc);
  if (zaqar.success) return [fromHeat(backendId, zaqar.data.body)];
  const bare = heatEvent.safeParse(doc);
  if (bare.success) return [fromHeat(backendId, bare.data)];
  const wrapped = envelope.safeParse(doc);
  if (wrapped.success) {
    let inner: unknown;
    try {
      inner = JSON.parse(wrapped.data['oslo.message']);
    } catch {
      throw new InputError('oslo.message is not JSON', [{ path: `${path}.oslo.message`, message: 'must be a JSON-encoded notification' }]);
    }
    const n = oslo.safeParse(inner);
    if (!n.success) {
      throw new InputError('oslo.message is not a notification', [{ path: `${path}.oslo.message`, message: 'must contain event_type and payload' }]);
    }
    return fromOslo(backendId, n.data);
  }
  const flat = oslo.safeParse(doc);
  if (flat.success) return fromOslo(backendId, flat.data);
  throw new InputError('the push is not a recognised notification', [
    {
      path,
      message:
        'send a Heat event-sink message (body.type "os.heat.event"), or an oslo notification (event_type orchestration.stack.* or compute.instance.*, flat or in the oslo.message envelope), or a list of them',
    },
  ]);
}
