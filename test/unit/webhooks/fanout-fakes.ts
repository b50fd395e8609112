/** Endpoints and feed entries for the fan-out's unit tests (Redis replaced by fakes there). */
import type { FeedEntry } from '../../../src/store/change-feed.js';
import type { ClaimResult } from '../../../src/store/delivery-store.js';
import type { StoredWebhook } from '../../../src/webhooks/webhook-schemas.js';

export function endpoint(id: string, overrides: Partial<StoredWebhook> = {}): StoredWebhook {
  return {
    id,
    url: `http://127.0.0.1:9/${id}`,
    events: null,
    deploymentIds: null,
    description: null,
    ordered: false,
    maxPerSecond: null,
    enabled: true,
    disabledReason: null,
    disabledAt: null,
    createdAt: '2026-11-30T00:00:00.000Z',
    updatedAt: '2026-11-30T00:00:00.000Z',
    startCursor: '0-0',
    secrets: [],
    ...overrides,
  };
}

/** Feed entry `n` (an instance event of srv-1, cursor `1764460800000-n`, event id `evt_n`). */
export function feedEntry(n: number): FeedEntry {
  return {
    cursor: `1764460800000-${n}`,
    json: `{"id":"evt_${n}","type":"instance.updated","occurredAt":"2026-11-30T00:00:00.000Z","data":{"current":{"id":"srv-1"},"previous":null}}`,
    type: 'instance.updated',
    subject: 'srv-1',
    deploymentId: 'stack-1',
  };
}

/** A claim the delivery store grants. */
export const CLAIMED: ClaimResult = { kind: 'ok', endpointJson: '{}', body: '', attemptsMade: 0, disabledAt: null, disabledReason: null, failingSince: null, cursor: null };
