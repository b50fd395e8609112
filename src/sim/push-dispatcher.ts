/**
 * Zaqar-style subscriptions and the push of world changes to their subscribers.
 *
 * Heat resource/stack events go out as Zaqar delivers a message posted by Heat's Zaqar event
 * sink: `{"body": <Event.as_dict()>, "ttl": …, "queue_name": …}` where the body has
 * `type: "os.heat.event"` (heat/engine/event.py `as_dict`; zaqar/notification/tasks/webhook.py
 * posts each message with `queue_name` added). Nova status changes go out as the legacy
 * `compute.instance.update` oslo notification, flat or in the oslo.messaging envelope.
 *
 * Signing (simulator-specific; Zaqar itself does not sign): when a subscription has
 * `options.secret` (or the simulator a default push secret), each POST carries
 * `X-Signature: <lowercase hex HMAC-SHA256(secret, raw body bytes)>`.
 */
import { createHmac } from 'node:crypto';
import type { SimContext } from './sim-context.js';
import type { SimEvent, SimStack, WorldNotice } from './scenario-world.js';
import type { RequestStats } from './request-stats.js';
import { computeInstanceUpdate, osloEnvelope } from './nova-views.js';
import { Prng } from './prng.js';

export const PUSH_EVENT_TYPES = ['os.heat.event', 'compute.instance.update'] as const;
export type PushEventType = (typeof PUSH_EVENT_TYPES)[number];

export interface Subscription {
  id: string;
  queue: string;
  subscriber: string;
  ttl: number;
  options: Record<string, unknown>;
  createdAtMs: number;
}

export interface PushOptions {
  /** Default envelope for Nova notifications. @defaultValue 'flat' */
  novaEnvelope?: 'flat' | 'oslo';
  /** Default signing secret for subscriptions without `options.secret`. */
  secret?: string;
  /** Per-delivery timeout. @defaultValue 5_000 */
  timeoutMs?: number;
}

/** Python `datetime.isoformat()` of a naive UTC time with microseconds. */
function pyIso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000');
}

export class PushDispatcher {
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly abort = new AbortController();
  private readonly ids: Prng;
  private closed = false;

  constructor(
    private readonly ctx: SimContext,
    private readonly stats: RequestStats,
    private readonly options: PushOptions = {},
  ) {
    this.ids = new Prng(`${ctx.credentials.projectId}:subscriptions`);
    ctx.world.onNotice((notice) => this.onNotice(notice));
  }

  subscribe(queue: string, subscriber: string, ttl: number, options: Record<string, unknown>): Subscription {
    const sub: Subscription = {
      id: this.ids.uuid().replace(/-/g, '').slice(0, 24),
      queue,
      subscriber,
      ttl,
      options,
      createdAtMs: this.ctx.world.now(),
    };
    this.subscriptions.set(sub.id, sub);
    return sub;
  }

  /** Live (unexpired) subscriptions of a queue, oldest first. */
  list(queue: string): Subscription[] {
    return [...this.subscriptions.values()].filter((s) => s.queue === queue && this.alive(s));
  }

  get(queue: string, id: string): Subscription | undefined {
    const sub = this.subscriptions.get(id);
    return sub && sub.queue === queue && this.alive(sub) ? sub : undefined;
  }

  remove(queue: string, id: string): void {
    const sub = this.subscriptions.get(id);
    if (sub && sub.queue === queue) this.subscriptions.delete(id);
  }

  alive(sub: Subscription): boolean {
    return this.ctx.world.now() < sub.createdAtMs + sub.ttl * 1000;
  }

  /** Resolves when every delivery started so far has finished (or failed). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0 || this.timers.size > 0) {
      await Promise.allSettled([...this.inflight]);
      if (this.timers.size > 0) await new Promise((r) => setTimeout(r, 5));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.abort.abort();
    await Promise.allSettled([...this.inflight]);
  }

  private onNotice(notice: WorldNotice): void {
    if (this.closed || this.subscriptions.size === 0) return;
    for (const sub of this.subscriptions.values()) {
      if (!this.alive(sub)) continue;
      const types = Array.isArray(sub.options.event_types) ? (sub.options.event_types as string[]) : PUSH_EVENT_TYPES;
      let body: string;
      if (notice.type === 'heat-event') {
        if (!types.includes('os.heat.event')) continue;
        body = JSON.stringify(heatSinkMessage(notice.stack, notice.event, sub));
      } else {
        if (!types.includes('compute.instance.update')) continue;
        const flat = computeInstanceUpdate(this.ctx, notice);
        const envelope = (sub.options.envelope as string | undefined) ?? this.options.novaEnvelope ?? 'flat';
        body = JSON.stringify(envelope === 'oslo' ? osloEnvelope(flat) : flat);
      }
      this.stats.push.produced += 1;
      const delays = this.ctx.faults.decidePush();
      if (delays.length === 0) {
        this.stats.push.dropped += 1;
        continue;
      }
      if (delays.length > 1) this.stats.push.duplicated += delays.length - 1;
      for (const delay of delays) this.schedule(sub, body, delay);
    }
  }

  private schedule(sub: Subscription, body: string, delayMs: number): void {
    if (delayMs <= 0) {
      this.track(this.deliver(sub, body));
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.track(this.deliver(sub, body));
    }, delayMs);
    this.timers.add(timer);
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private async deliver(sub: Subscription, body: string): Promise<void> {
    if (this.closed) return;
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    const extra = sub.options.post_headers;
    if (extra && typeof extra === 'object') {
      for (const [k, v] of Object.entries(extra as Record<string, unknown>)) headers[k] = String(v);
    }
    const secret = typeof sub.options.secret === 'string' ? sub.options.secret : this.options.secret;
    if (secret) headers['X-Signature'] = createHmac('sha256', secret).update(body).digest('hex');
    try {
      const res = await fetch(sub.subscriber, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.options.timeoutMs ?? 5_000)]),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) this.stats.push.delivered += 1;
      else this.stats.push.failed += 1;
    } catch {
      this.stats.push.failed += 1;
    }
  }
}

/** A Heat event-sink message as Zaqar POSTs it to a webhook subscriber. */
function heatSinkMessage(stack: SimStack, event: SimEvent, sub: Subscription): Record<string, unknown> {
  return {
    body: {
      id: event.id,
      timestamp: pyIso(event.atMs),
      type: 'os.heat.event',
      version: '0.1',
      payload: {
        resource_name: event.resourceName,
        physical_resource_id: event.physicalResourceId,
        stack_id: stack.id,
        resource_action: event.action,
        resource_status: event.status,
        resource_status_reason: event.reason,
        resource_type: event.resourceType,
        resource_properties: {},
        version: '0.1',
      },
    },
    ttl: 3600,
    queue_name: sub.queue,
  };
}
