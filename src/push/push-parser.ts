/**
 * Parses Zaqar-delivered Heat event-sink messages into hints (which stack, which server):
 * `{body: {type: "os.heat.event", payload: {stack_id, physical_resource_id, resource_name, …}},
 * ttl, queue_name}` (heat/engine/event.py `as_dict`, zaqar/notification/tasks/webhook.py), or
 * the bare `body`, or a list of them. Such a message names a resource but not the server's live
 * status, so it is only a hint: the gateway fetches the authoritative state of what it names.
 * Oslo notifications and Aodh alarms, which do carry a state, are read by
 * `notification-parsers.ts`.
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

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 && v.length <= 255 ? v : undefined);

/** `arn:openstack:heat::<tenant>:stacks/<name>/<id>`, `<name>/<id>` or a bare id → {name?, id}. */
export function parseStackIdentity(identity: string): { id: string; name?: string } {
  const path = identity.includes('stacks/') ? identity.slice(identity.lastIndexOf('stacks/') + 'stacks/'.length) : identity;
  const parts = path.split('/').filter(Boolean);
  if (parts.length >= 2) return { name: parts[parts.length - 2]!, id: parts[parts.length - 1]! };
  return { id: parts[0] ?? identity };
}

function fromHeat(backendId: string, e: z.infer<typeof heatEvent>): PushHint {
  const physical = str(e.payload.physical_resource_id);
  return { backendId, event: e.type, stackId: e.payload.stack_id, ...(physical ? { instanceId: physical } : {}) };
}

/**
 * Hints in an event-sink message or a list of them. Throws InputError (400), naming the path,
 * for anything else.
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
  throw new InputError('the push is not a recognised notification', [
    {
      path,
      message:
        'send a Heat event-sink message (body.type "os.heat.event"), or a list of them',
    },
  ]);
}
