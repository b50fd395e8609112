/**
 * What the routes do beyond plain reads: registration behind the SSRF guard, enqueuing
 * deliveries (test events, redeliveries) and replay from the feed.
 */
import type { Config } from '../config/schema.js';
import { ConflictError, InputError } from '../errors.js';
import type { ChangeFeed } from '../store/change-feed.js';
import type { DeliveryStore, EnsureResult, NewDelivery, StoredDelivery } from '../store/delivery-store.js';
import type { DeliveryQueue } from './delivery-queue.js';
import { SsrfError, type SsrfGuard } from './ssrf-guard.js';
import { bodyFromFeed, payloadOf, toNewDelivery, wants } from './webhook-payload.js';
import type { WebhookRegistry } from '../store/webhook-registry.js';
import type { CreateWebhook, PatchWebhook, StoredWebhook } from './webhook-schemas.js';

/** Most events one replay request re-sends. */
export const MAX_REPLAY_EVENTS = 100_000;

export class WebhookService {
  constructor(
    readonly registry: WebhookRegistry,
    readonly deliveries: DeliveryStore,
    private readonly queue: DeliveryQueue,
    private readonly feed: ChangeFeed,
    readonly guard: () => SsrfGuard,
    readonly config: () => Config['webhooks'],
    readonly now: () => number,
  ) {}

  /** Refuses URLs the SSRF guard refuses, naming the field and the reason. */
  async checkUrl(url: string): Promise<void> {
    try {
      await this.guard().checkUrl(url);
    } catch (err) {
      if (!(err instanceof SsrfError)) throw err;
      throw new InputError(`url refused (${err.reason}): ${err.message}`, [{ path: 'body.url', message: `refused (${err.reason}): ${err.message}` }]);
    }
  }

  async create(input: CreateWebhook): Promise<{ webhook: StoredWebhook; secret: string }> {
    await this.checkUrl(input.url);
    // Only events appended after it exists reach the new endpoint (older ones by replay).
    return this.registry.create(input, this.feed.keys.feed);
  }

  async patch(id: string, input: PatchWebhook): Promise<StoredWebhook> {
    if (input.url !== undefined) await this.checkUrl(input.url);
    return this.registry.patch(id, input);
  }

  /** Records deliveries to `webhook` and enqueues their jobs. */
  async enqueue(webhook: StoredWebhook, items: NewDelivery[], mode: 'new' | 'again'): Promise<EnsureResult[]> {
    const results = await this.deliveries.ensure(webhook.id, items, mode, this.now());
    await this.queue.add(
      items.flatMap((d, i) => {
        const r = results[i]!;
        return r.code === 'created' || r.code === 'pending' ? [{ endpointId: webhook.id, eventId: d.eventId, run: r.run, subject: d.subject, first: true }] : [];
      }),
    );
    return results;
  }

  /**
   * Sends a finished delivery again (same webhook-id). A delivered body is not kept when the
   * feed holds its event: it is rebuilt from the feed entry, byte for byte what was signed.
   */
  async redeliver(webhook: StoredWebhook, { view, body, cursor }: StoredDelivery): Promise<EnsureResult> {
    if (body === '' && cursor) {
      const rebuilt = await bodyFromFeed(this.feed, cursor, view.id);
      if (rebuilt === null) {
        throw new ConflictError(
          `delivery ${view.id} was delivered and its body is rebuilt from the feed for a redelivery, but its event (cursor ${cursor}) ` +
            'has left the feed (feed.maxAgeMs / feed.maxLength); raise the feed retention to redeliver older events',
        );
      }
      body = rebuilt;
    }
    const [result] = await this.enqueue(
      webhook,
      [{ eventId: view.id, type: view.eventType, subject: view.subject ?? '', body, ordered: webhook.ordered, ...(cursor ? { cursor } : {}) }],
      'again',
    );
    return result!;
  }

  /** Re-sends every feed event since `sinceMs` that the endpoint's filters match, in order. */
  async replay(id: string, sinceMs: number): Promise<{ matched: number; queued: number; alreadyPending: number }> {
    const webhook = await this.registry.get(id);
    let after = `${Math.max(0, sinceMs - 1)}-18446744073709551615`;
    let matched = 0;
    let queued = 0;
    let alreadyPending = 0;
    let seen = 0;
    while (seen < MAX_REPLAY_EVENTS) {
      const page = await this.feed.read(after, 1_000);
      if (page.entries.length === 0) break;
      seen += page.entries.length;
      after = page.next;
      const items = page.entries.map(payloadOf).filter((p) => wants(webhook, p)).map((p) => toNewDelivery(webhook, p));
      matched += items.length;
      for (const r of await this.enqueue(webhook, items, 'again')) {
        if (r.code === 'busy') alreadyPending++;
        else queued++;
      }
    }
    return { matched, queued, alreadyPending };
  }
}
