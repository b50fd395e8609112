/**
 * Zaqar v2 subscriptions (Messaging API v2 reference, "Subscriptions"):
 * `POST /v2/queues/{queue}/subscriptions` `{subscriber, ttl, options}` → 201
 * `{"subscription_id"}`, list, show, delete. Requests need a Keystone token and a
 * `Client-ID` header, as in Zaqar. Errors use Zaqar's (falcon) `{"title", "description"}`.
 */
import type { SimContext } from './sim-context.js';
import type { PushDispatcher, Subscription } from './push-dispatcher.js';
import { checkToken, tokenRejected } from './keystone-api.js';
import { header, json, type Reply, type SimRequest } from './sim-http.js';

export function zaqarError(status: number, title: string, description: string, template = '*'): Reply {
  return json(status, { title, description }, template);
}

const QUEUE_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

function view(sub: Subscription, ctx: SimContext): Record<string, unknown> {
  return {
    id: sub.id,
    subscriber: sub.subscriber,
    source: sub.queue,
    ttl: sub.ttl,
    age: Math.floor((ctx.world.now() - sub.createdAtMs) / 1000),
    options: sub.options,
  };
}

/** Route template of a Zaqar path (below `/messaging/v2`), for accounting. */
export function zaqarTemplate(path: string): string {
  const segments = path.split('/').filter(Boolean);
  if (segments[0] !== 'queues' || segments[2] !== 'subscriptions' || segments.length > 4) return '*';
  return segments.length === 3 ? '/queues/:queue/subscriptions' : '/queues/:queue/subscriptions/:id';
}

export async function handleZaqar(ctx: SimContext, push: PushDispatcher, req: SimRequest): Promise<Reply> {
  const segments = req.path.split('/').filter(Boolean).map(decodeURIComponent);
  const [queues, queue, subs, id, ...more] = segments;
  const template = zaqarTemplate(req.path);
  if (queues !== 'queues' || subs !== 'subscriptions' || queue === undefined || more.length > 0) {
    return zaqarError(404, 'Not found', 'The resource could not be found.', '*');
  }
  if (!checkToken(ctx, req)) return tokenRejected(template);
  if (!header(req, 'client-id')) {
    return zaqarError(400, 'Missing header', 'The "Client-ID" header is required.', template);
  }
  if (!QUEUE_NAME.test(queue)) {
    return zaqarError(400, 'Invalid API request', 'Queue names may not be more than 64 characters long and may only contain ASCII letters, digits, underscores and dashes.', template);
  }
  if (id === undefined && req.method === 'POST') {
    let body: { subscriber?: unknown; ttl?: unknown; options?: unknown };
    try {
      body = JSON.parse(await req.body()) as typeof body;
    } catch {
      return zaqarError(400, 'Malformed JSON', 'Request body could not be parsed.', template);
    }
    const { subscriber, ttl = 3600, options = {} } = body ?? {};
    if (typeof subscriber !== 'string' || !/^https?:\/\/.+/.test(subscriber)) {
      return zaqarError(400, 'Invalid API request', 'The subscriber type of subscription must be supported in the list [http, https].', template);
    }
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1) {
      return zaqarError(400, 'Invalid API request', 'The TTL for a subscription must be a positive integer number of seconds.', template);
    }
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      return zaqarError(400, 'Invalid API request', 'Options must be a dict.', template);
    }
    if (push.list(queue).some((s) => s.subscriber === subscriber)) {
      return zaqarError(409, 'Subscription already exists', `A subscription of ${subscriber} on queue ${queue} already exists.`, template);
    }
    const sub = push.subscribe(queue, subscriber, ttl, options as Record<string, unknown>);
    return json(201, { subscription_id: sub.id }, template);
  }
  if (id === undefined && req.method === 'GET') {
    return json(200, { subscriptions: push.list(queue).map((s) => view(s, ctx)), links: [] }, template);
  }
  if (id !== undefined && req.method === 'GET') {
    const sub = push.get(queue, id);
    if (!sub) return zaqarError(404, 'Not found', 'Subscription not found.', template);
    return json(200, view(sub, ctx), template);
  }
  if (id !== undefined && req.method === 'DELETE') {
    push.remove(queue, id);
    return { status: 204, template };
  }
  return zaqarError(405, 'Method not allowed', `${req.method} is not allowed here.`, template);
}
