/**
 * Zaqar v2 subscriptions (Messaging API v2, "Subscriptions"), which is how Heat's event sinks
 * reach a webhook: `POST /v2/queues/{queue}/subscriptions {subscriber, ttl, options}`.
 * Authenticated with the Heat backend's Keystone token; Zaqar also wants a `Client-ID`.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { UpstreamError } from '../errors.js';
import type { HeatClient } from './heat-client.js';

const created = z.object({ subscription_id: z.string().min(1) });
const listed = z.object({ subscriptions: z.array(z.object({ id: z.string(), subscriber: z.string() }).passthrough()) });

export interface SubscribeOptions {
  /** The URL Zaqar should POST messages to (our ingest endpoint). */
  subscriber: string;
  ttlSeconds: number;
  /** Zaqar subscription options, e.g. `{secret, post_headers}`. */
  options?: Record<string, unknown>;
}

export class ZaqarClient {
  /** Zaqar identifies a client by a UUID; one per process is enough. */
  private readonly clientId = randomUUID();

  constructor(private readonly heat: HeatClient) {}

  private async headers(): Promise<Record<string, string>> {
    const { token } = await this.heat.auth.credentials();
    return { 'X-Auth-Token': token, 'Client-ID': this.clientId, Accept: 'application/json' };
  }

  /**
   * Subscribes `subscriber` at `subscriptionsUrl` (…/v2/queues/<queue>/subscriptions). An
   * existing subscription of the same subscriber is replaced, which also renews its TTL
   * (Zaqar answers 409 to a second subscription of one subscriber). Returns the id.
   */
  async subscribe(subscriptionsUrl: string, opts: SubscribeOptions): Promise<string> {
    const body = { subscriber: opts.subscriber, ttl: opts.ttlSeconds, options: opts.options ?? {} };
    try {
      return await this.create(subscriptionsUrl, body);
    } catch (err) {
      if (!(err instanceof UpstreamError && err.upstreamStatus === 409)) throw err;
    }
    for (const existing of await this.list(subscriptionsUrl)) {
      if (existing.subscriber === opts.subscriber) await this.remove(subscriptionsUrl, existing.id);
    }
    return this.create(subscriptionsUrl, body);
  }

  async list(subscriptionsUrl: string): Promise<{ id: string; subscriber: string }[]> {
    const res = await this.heat.http.request({ call: 'zaqar.listSubscriptions', method: 'GET', url: subscriptionsUrl, headers: await this.headers() });
    return this.parse(res.body, listed, 'zaqar.listSubscriptions').subscriptions;
  }

  async remove(subscriptionsUrl: string, id: string): Promise<void> {
    await this.heat.http.request({
      call: 'zaqar.deleteSubscription',
      method: 'DELETE',
      url: `${subscriptionsUrl.replace(/\/+$/, '')}/${encodeURIComponent(id)}`,
      headers: await this.headers(),
    });
  }

  private async create(url: string, json: unknown): Promise<string> {
    const res = await this.heat.http.request({ call: 'zaqar.subscribe', method: 'POST', url, json, headers: await this.headers() });
    return this.parse(res.body, created, 'zaqar.subscribe').subscription_id;
  }

  private parse<T>(body: Buffer, schema: z.ZodType<T>, call: string): T {
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new UpstreamError(`${call}: Zaqar answered something that is not JSON`, { backend: this.heat.id, reason: 'parse', body }, { cause: err });
    }
    const result = schema.safeParse(doc);
    if (!result.success) {
      throw new UpstreamError(`${call}: unexpected Zaqar answer (${result.error.issues[0]?.message})`, { backend: this.heat.id, reason: 'schema', body });
    }
    return result.data;
  }
}
