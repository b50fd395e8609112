/**
 * What a pushed notification says about one instance, and how it travels to the observe
 * script: its state, raw status, addresses when it lists them, and time. Everything else of
 * the served document (deployment, name, the backend's kind, public addresses a format cannot
 * carry, updatedAt when the push has no time) is the cached record's, and the script patches
 * the record in place (kind `p` in lua/observe.ts). A push therefore costs one round trip, and
 * the gateway never reads, parses or re-serializes the cached document first.
 */
import { z } from 'zod';
import { instanceStateSchema } from '../model/types.js';
import { newEventId, sortedJson, type ObserveItem } from './observe-calls.js';

/** The times a JavaScript Date can hold: ±8.64e15 ms. */
export const MAX_DATE_MS = 8.64e15;
const dateMs = z.number().min(-MAX_DATE_MS).max(MAX_DATE_MS);

export const instancePushSchema = z.object({
  /** The server's id as the backend knows it (the record's id). */
  id: z.string().min(1),
  /** The backend that pushed (ownership, the served `backend.id`). */
  backendId: z.string().min(1),
  state: instanceStateSchema,
  /** The raw backend status the state was mapped from (served as `backend.status`). */
  rawStatus: z.string().nullable(),
  /** Addresses when the push lists them; `public` absent: the format cannot say. Absent: keep the record's. */
  addresses: z.object({ public: z.array(z.string()).optional(), private: z.array(z.string()) }).optional(),
  /** Backend time of the change, ms since epoch; null keeps the record's updatedAt. */
  atMs: dateMs.nullable(),
  /** The push names the server's stack: a record without a deployment is then not patched (the caller fetches it). */
  namesStack: z.boolean(),
  /** Gateway time the push stands for; orders it against the record like any observation's. */
  observedAtMs: dateMs,
});
export type InstancePush = z.infer<typeof instancePushSchema>;

/** A push as the observe script's arguments (kind `p`). */
export function pushItem(push: InstancePush): ObserveItem {
  const at = push.atMs === null ? null : new Date(push.atMs);
  const updatedIso = at === null ? '' : at.toISOString();
  const { addresses } = push;
  const says =
    `${push.rawStatus === null ? 'null' : JSON.stringify(push.rawStatus)}\n${JSON.stringify(push.backendId)}\n` +
    `${addresses?.public ? sortedJson(addresses.public) : ''}\n${addresses ? sortedJson(addresses.private) : ''}`;
  return {
    args: [push.id, push.namesStack ? 's' : '', push.backendId, push.state, says, updatedIso === '' ? '' : `"${updatedIso}"`],
    updatedMs: at === null ? '' : at.getTime(),
    updatedIso,
    eventId: newEventId(),
    // The record's kind: the script reads it.
    backendKind: '',
    observedAtMs: push.observedAtMs,
  };
}
