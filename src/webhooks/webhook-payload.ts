/**
 * The delivered body, built once per event: `{"type", "timestamp", "data"}`, where `data`
 * is the feed event's data (`current`, `previous` — each instance and deployment carries its
 * `version`) plus `id` (the instance or deployment the event is about, or null),
 * `deploymentId` (or null) and `cursor` (the feed position, usable with
 * `GET /v1/events?after=`). These exact bytes are signed.
 */
import type { ChangeFeed, FeedEntry } from '../store/change-feed.js';
import type { StoredWebhook } from './webhook-schemas.js';
import { eventMatches } from './webhook-schemas.js';
import { compareCursors } from '../store/change-feed.js';
import type { NewDelivery } from '../store/delivery-store.js';

export interface FeedPayload {
  eventId: string;
  type: string;
  subject: string;
  deploymentId: string;
  cursor: string;
  body: string;
}

export function payloadOf(entry: FeedEntry): FeedPayload {
  const change = entry.change;
  if (change) {
    // A cache change: its two documents are stored as JSON already, so the body is spliced
    // around them (the same JSON as the parse-and-stringify below, without building the
    // documents' object trees on every delivery's path).
    const body =
      `{"type":${JSON.stringify(entry.type)},"timestamp":${JSON.stringify(change.occurredAt)},` +
      `"data":{"id":${JSON.stringify(entry.subject || null)},"deploymentId":${JSON.stringify(entry.deploymentId || null)},` +
      `"cursor":${JSON.stringify(entry.cursor)},"current":${change.current},"previous":${change.previous ?? 'null'}}}`;
    return { eventId: change.id, type: entry.type, subject: entry.subject, deploymentId: entry.deploymentId, cursor: entry.cursor, body };
  }
  const event = JSON.parse(entry.json) as { id: string; type: string; occurredAt: string; data?: Record<string, unknown> };
  const body = JSON.stringify({
    type: event.type,
    timestamp: event.occurredAt,
    data: { id: entry.subject || null, deploymentId: entry.deploymentId || null, cursor: entry.cursor, ...(event.data ?? {}) },
  });
  return { eventId: event.id, type: event.type, subject: entry.subject, deploymentId: entry.deploymentId, cursor: entry.cursor, body };
}

/**
 * The body of delivery `eventId` rebuilt from its feed entry at `cursor`, byte for byte what
 * the fan-out built; null when the entry has left the feed (retention).
 */
export async function bodyFromFeed(feed: Pick<ChangeFeed, 'entry'>, cursor: string, eventId: string): Promise<string | null> {
  const entry = await feed.entry(cursor);
  const payload = entry ? payloadOf(entry) : null;
  return payload?.eventId === eventId ? payload.body : null;
}

/**
 * Does `webhook` want `payload`? Type filter (exact or `prefix.*`) and deployment filter;
 * events without a deployment (gateway.*, webhook.*) pass the deployment filter.
 */
export function wants(webhook: StoredWebhook, payload: FeedPayload): boolean {
  if (!eventMatches(webhook.events, payload.type)) return false;
  if (webhook.deploymentIds && payload.deploymentId !== '' && !webhook.deploymentIds.includes(payload.deploymentId)) return false;
  return true;
}

/** Fan-out only: events appended after the endpoint was created. */
export function isAfterStart(webhook: StoredWebhook, payload: FeedPayload): boolean {
  return compareCursors(payload.cursor, webhook.startCursor) > 0;
}

export function toNewDelivery(webhook: StoredWebhook, payload: FeedPayload): NewDelivery {
  return { eventId: payload.eventId, type: payload.type, subject: payload.subject, body: payload.body, ordered: webhook.ordered, cursor: payload.cursor };
}

/**
 * The deliveries `entries` make (in feed order), by endpoint: each entry to every endpoint
 * created before it that wants it. An entry that cannot be read is passed to `unreadable`
 * and skipped.
 */
export function deliveriesOf(entries: FeedEntry[], endpoints: StoredWebhook[], unreadable: (entry: FeedEntry, err: Error) => void): Map<StoredWebhook, NewDelivery[]> {
  const perEndpoint = new Map<StoredWebhook, NewDelivery[]>();
  // No endpoint: nothing to build (a body per event showed in the observe profile).
  for (const entry of endpoints.length > 0 ? entries : []) {
    let payload;
    try {
      payload = payloadOf(entry);
    } catch (err) {
      unreadable(entry, err as Error);
      continue;
    }
    for (const webhook of endpoints) {
      if (!isAfterStart(webhook, payload) || !wants(webhook, payload)) continue;
      let list = perEndpoint.get(webhook);
      if (!list) perEndpoint.set(webhook, (list = []));
      list.push(toNewDelivery(webhook, payload));
    }
  }
  return perEndpoint;
}
