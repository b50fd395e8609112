/**
 * The delivery log's replies as the gateway reads them: a claim script's answer, and a
 * delivery record's fields as the API's view (the record's layout: ENSURE_BODY and
 * FINISH_BODY in lua/deliveries.ts).
 */
import type { DeliveryView } from '../webhooks/webhook-schemas.js';
import type { ClaimResult } from './delivery-store.js';

export function toClaim(r: string[]): ClaimResult {
  const kind = r[0] as string;
  if (kind === 'waiting') return { kind, head: r[1] ?? '' };
  if (kind === 'busy') return { kind, owner: r[1] ?? '', leaseMs: r[2] ? Number(r[2]) : null };
  if (kind !== 'ok') return { kind: kind as 'gone' | 'missing' | 'superseded' | 'done' };
  return {
    kind,
    endpointJson: r[1]!,
    body: r[2]!,
    attemptsMade: Number(r[3] ?? 0),
    disabledAt: r[4] ? Number(r[4]) : null,
    disabledReason: r[5] || null,
    failingSince: r[6] ? Number(r[6]) : null,
    cursor: r[7] || null,
  };
}

export function toDeliveryView(id: string, h: Record<string, string>): DeliveryView {
  const time = (v: string | undefined) => (v ? new Date(Number(v)).toISOString() : null);
  return {
    id,
    eventId: h.ev ?? id,
    eventType: h.ty ?? '',
    subject: h.sub || null,
    status: h.st as DeliveryView['status'],
    attempts: Number(h.n ?? 0),
    totalAttempts: Number(h.tot ?? 0),
    run: Number(h.run ?? 0),
    createdAt: time(h.ca) ?? '',
    updatedAt: time(h.ua) ?? '',
    nextAttemptAt: h.st === 'delivered' || h.st === 'dead' ? null : time(h.na),
    lastStatus: h.ls ? Number(h.ls) : null,
    lastError: h.le || null,
  };
}
