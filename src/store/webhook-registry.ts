/**
 * The endpoint registry in Redis: create, read, page, patch, delete, rotate secrets, and the
 * health fields (failing since, disabled) the delivery worker updates. Endpoint JSON is
 * replaced with a compare-and-set, so a PATCH racing a rotation cannot lose a secret.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ConflictError, NotFoundError } from '../errors.js';
import { newWebhookSecret } from '../webhooks/webhook-signer.js';
import type { CreateWebhook, PatchWebhook, StoredWebhook, WebhookView } from '../webhooks/webhook-schemas.js';
import { WebhookKeys } from './webhook-keys.js';
import { withScripts } from './script-registry.js';

/** Stands in for the feed position until the create script fills it in. */
const START_PLACEHOLDER = '@@start-cursor@@';

/** Health of an endpoint (kept apart from its JSON so the worker updates it atomically). */
export interface WebhookHealth {
  failingSince: number | null;
  lastSuccessAt: number | null;
  disabledAt: number | null;
  disabledReason: string | null;
}

export class WebhookRegistry {
  readonly keys: WebhookKeys;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly now: () => number,
  ) {
    this.keys = new WebhookKeys(prefix);
    withScripts(redis, ['hgwWhCreate', 'hgwWhCas']);
  }

  /** Creates an endpoint; the answer is the only time its secret is shown. */
  /** Creates an endpoint that receives every feed event appended after it exists (see CREATE_LUA). */
  async create(input: CreateWebhook, feedKey: string): Promise<{ webhook: StoredWebhook; secret: string }> {
    const now = new Date(this.now()).toISOString();
    const secret = newWebhookSecret();
    const webhook: StoredWebhook = {
      id: `wh_${randomBytes(16).toString('hex')}`,
      url: input.url,
      events: input.events ? [...new Set(input.events)] : null,
      deploymentIds: input.deploymentIds ? [...new Set(input.deploymentIds)] : null,
      description: input.description ?? null,
      ordered: input.ordered ?? false,
      maxPerSecond: input.maxPerSecond ?? null,
      enabled: true,
      disabledReason: null,
      disabledAt: null,
      createdAt: now,
      updatedAt: now,
      startCursor: START_PLACEHOLDER,
      secrets: [{ secret, createdAt: now, expiresAt: null }],
    };
    webhook.startCursor = await this.redis.hgwWhCreate(
      this.keys.endpoint(webhook.id),
      this.keys.version,
      this.keys.index,
      feedKey,
      JSON.stringify(webhook),
      webhook.id,
      START_PLACEHOLDER,
    );
    return { webhook, secret };
  }

  /** The endpoint with its health folded in, or null. */
  async find(id: string): Promise<StoredWebhook | null> {
    const [[, json], [, health]] = (await this.redis
      .multi()
      .get(this.keys.endpoint(id))
      .hgetall(this.keys.health(id))
      .exec()) as [[null, string | null], [null, Record<string, string>]];
    return json ? withHealth(JSON.parse(json) as StoredWebhook, health) : null;
  }

  async get(id: string): Promise<StoredWebhook> {
    const webhook = await this.find(id);
    if (!webhook) throw new NotFoundError(`webhook ${id} does not exist; list them with GET /v1/webhooks`);
    return webhook;
  }

  /** Every endpoint (the fan-out's view); health included. */
  async all(): Promise<StoredWebhook[]> {
    const ids = await this.redis.zrange(this.keys.index, 0, '-1');
    return this.many(ids);
  }

  private async many(ids: string[]): Promise<StoredWebhook[]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.get(this.keys.endpoint(id)).hgetall(this.keys.health(id));
    const replies = (await pipeline.exec()) ?? [];
    const out: StoredWebhook[] = [];
    for (let i = 0; i + 1 < replies.length; i += 2) {
      const json = replies[i]![1] as string | null;
      if (json) out.push(withHealth(JSON.parse(json) as StoredWebhook, replies[i + 1]![1] as Record<string, string>));
    }
    return out;
  }

  /** A page of endpoints by id; `next` continues. */
  async page(limit: number, cursor: string | undefined): Promise<{ items: StoredWebhook[]; next: string | null }> {
    const ids = await this.redis.zrangebylex(this.keys.index, cursor ? `(${cursor}` : '-', '+', 'LIMIT', '0', String(limit + 1));
    const more = ids.length > limit;
    const items = await this.many(ids.slice(0, limit));
    return { items, next: more ? (ids[limit - 1] ?? null) : null };
  }

  /** Read-modify-write with compare-and-set; `change` may run more than once. */
  async update(id: string, change: (current: StoredWebhook) => StoredWebhook): Promise<StoredWebhook> {
    for (let tries = 0; tries < 10; tries++) {
      const raw = await this.redis.get(this.keys.endpoint(id));
      if (!raw) throw new NotFoundError(`webhook ${id} does not exist; list them with GET /v1/webhooks`);
      const next = change(JSON.parse(raw) as StoredWebhook);
      next.updatedAt = new Date(this.now()).toISOString();
      if (await this.redis.hgwWhCas(this.keys.endpoint(id), this.keys.version, raw, JSON.stringify(next))) return next;
    }
    throw new ConflictError(`webhook ${id} is being changed concurrently; try again`);
  }

  async patch(id: string, input: PatchWebhook): Promise<StoredWebhook> {
    await this.update(id, (w) => ({
      ...w,
      ...(input.url !== undefined ? { url: input.url } : {}),
      ...(input.events !== undefined ? { events: input.events ? [...new Set(input.events)] : null } : {}),
      ...(input.deploymentIds !== undefined ? { deploymentIds: input.deploymentIds ? [...new Set(input.deploymentIds)] : null } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.ordered !== undefined ? { ordered: input.ordered } : {}),
      ...(input.maxPerSecond !== undefined ? { maxPerSecond: input.maxPerSecond } : {}),
    }));
    if (input.enabled === true) await this.enable(id);
    else if (input.enabled === false) await this.disable(id, 'disabled through the API');
    return this.get(id);
  }

  /** A new secret signs from now on; the previous ones keep signing for `overlapMs`. */
  async rotate(id: string, overlapMs: number): Promise<{ webhook: StoredWebhook; secret: string }> {
    const secret = newWebhookSecret();
    const nowMs = this.now();
    const webhook = await this.update(id, (w) => ({
      ...w,
      secrets: [
        { secret, createdAt: new Date(nowMs).toISOString(), expiresAt: null },
        // Keep the previous secrets that are still valid (at most 4), each expiring at the latest
        // after the overlap from now.
        ...w.secrets
          .filter((s) => s.expiresAt === null || Date.parse(s.expiresAt) > nowMs)
          .slice(0, 4)
          .map((s) => ({
            ...s,
            expiresAt: new Date(Math.min(nowMs + overlapMs, s.expiresAt ? Date.parse(s.expiresAt) : Infinity)).toISOString(),
          }))
          .filter((s) => Date.parse(s.expiresAt) > nowMs),
      ],
    }));
    return { webhook, secret };
  }

  /** Removes an endpoint and everything kept for it. Queued jobs find it gone and drop. */
  async delete(id: string): Promise<void> {
    const removed = await this.redis.del(this.keys.endpoint(id));
    if (!removed) {
      // Nothing was deleted: the version (which makes every replica reload endpoints) stays.
      await this.redis.zrem(this.keys.index, id);
      throw new NotFoundError(`webhook ${id} does not exist; list them with GET /v1/webhooks`);
    }
    await this.redis.multi().zrem(this.keys.index, id).incr(this.keys.version).exec();
    const pattern = `${this.keys.endpoint(id).replace(/[*?[\]\\]/g, '\\$&')}:*`;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
      cursor = next;
      if (keys.length > 0) await this.redis.del(...keys);
    } while (cursor !== '0');
  }

  /** Disables an endpoint; true when this call did it (so one `webhook.disabled` is recorded). */
  async disable(id: string, reason: string): Promise<boolean> {
    const [[, set]] = (await this.redis
      .multi()
      .hsetnx(this.keys.health(id), 'da', this.now())
      .hset(this.keys.health(id), 'dr', reason)
      .incr(this.keys.version)
      .exec()) as [[null, number]];
    return set === 1;
  }

  /** Re-enables: clears the disabled mark and the failure clock. */
  async enable(id: string): Promise<void> {
    await this.redis.multi().hdel(this.keys.health(id), 'da', 'dr', 'fs').incr(this.keys.version).exec();
  }

  /** Registry version (bumped on every change), for cheap cache checks. */
  async version(): Promise<string> {
    return (await this.redis.get(this.keys.version)) ?? '0';
  }
}

function withHealth(webhook: StoredWebhook, health: Record<string, string>): StoredWebhook {
  const disabledAt = health.da ? new Date(Number(health.da)).toISOString() : null;
  return { ...webhook, enabled: disabledAt === null, disabledAt, disabledReason: disabledAt ? (health.dr ?? 'disabled') : null };
}

/** The served form: no secrets, only when the previous ones stop signing. */
export function toView(webhook: StoredWebhook): WebhookView {
  const { secrets, ...rest } = webhook;
  return { ...rest, secretExpiresAt: secrets.flatMap((s) => (s.expiresAt ? [s.expiresAt] : [])) };
}

/** Secrets that sign at `nowMs`, newest first. */
export function signingSecrets(webhook: StoredWebhook, nowMs: number): string[] {
  return webhook.secrets.filter((s) => s.expiresAt === null || Date.parse(s.expiresAt) > nowMs).map((s) => s.secret);
}
