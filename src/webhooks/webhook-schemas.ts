/**
 * Data contracts of the webhook module: API bodies and answers, the stored endpoint, the
 * delivery job payload. Types are inferred from these schemas; the routes validate with them
 * and `/openapi.json` is generated from them.
 */
import { z } from 'zod';
import { FEED_EVENT_TYPES } from '../model/types.js';
import { idSchema } from '../api/api-schemas.js';

/** Event types an endpoint may subscribe to: the feed's, plus the webhook module's own. */
export const WEBHOOK_EVENT_TYPES = [...FEED_EVENT_TYPES, 'webhook.test', 'webhook.disabled'] as const;

const typePrefixes = [...new Set(WEBHOOK_EVENT_TYPES.map((t) => t.split('.')[0]!))];

export const eventFilterSchema = z
  .string()
  .refine((t) => (WEBHOOK_EVENT_TYPES as readonly string[]).includes(t) || typePrefixes.some((p) => t === `${p}.*`), {
    error: (issue) =>
      `'${String(issue.input).slice(0, 60)}' is not an event type; use one of ${WEBHOOK_EVENT_TYPES.join(', ')}, or a prefix such as instance.*`,
  });

const idList = z.array(z.string().min(1).max(255)).max(1_000);

/** Does an endpoint's `events` filter accept `type`? */
export function eventMatches(filter: readonly string[] | null, type: string): boolean {
  if (filter === null) return true;
  return filter.some((f) => f === type || (f.endsWith('.*') && type.startsWith(f.slice(0, -1))));
}

export const createWebhookSchema = z
  .object({
    url: z.string().min(1).max(4_096).describe('http(s) URL receiving the deliveries'),
    events: z.array(eventFilterSchema).min(1, 'list at least one event type, or omit events for all').max(50).optional().describe('event types (or prefixes such as instance.*); all when omitted'),
    deploymentIds: idList.min(1, 'list at least one deployment id, or omit deploymentIds for all').optional().describe('only events of these deployments; all when omitted'),
    description: z.string().max(500).optional(),
    ordered: z.boolean().optional().describe('deliver one instance\'s events strictly in feed order'),
    maxPerSecond: z.number().int('must be a whole number').min(1, 'must be at least 1').max(10_000).optional().describe('deliveries per second to this endpoint, across all replicas'),
  })
  .strict();
export type CreateWebhook = z.infer<typeof createWebhookSchema>;

export const patchWebhookSchema = z
  .object({
    url: createWebhookSchema.shape.url.optional(),
    events: z.array(eventFilterSchema).min(1).max(50).nullable().optional().describe('null subscribes to every type'),
    deploymentIds: idList.min(1).nullable().optional().describe('null: every deployment'),
    description: z.string().max(500).nullable().optional(),
    ordered: z.boolean().optional(),
    maxPerSecond: z.number().int('must be a whole number').min(1, 'must be at least 1').max(10_000).nullable().optional(),
    enabled: z.boolean().optional().describe('true re-enables a disabled endpoint'),
  })
  .strict();
export type PatchWebhook = z.infer<typeof patchWebhookSchema>;

/** An endpoint as stored (never served as is: secrets stay inside). */
export const storedWebhookSchema = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.string()).nullable(),
  deploymentIds: z.array(z.string()).nullable(),
  description: z.string().nullable(),
  ordered: z.boolean(),
  maxPerSecond: z.number().nullable(),
  enabled: z.boolean(),
  disabledReason: z.string().nullable(),
  disabledAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Feed cursor at creation: only later events are fanned out to this endpoint. */
  startCursor: z.string(),
  /** Newest first; an old one keeps signing until `expiresAt`. */
  secrets: z.array(z.object({ secret: z.string(), createdAt: z.string(), expiresAt: z.string().nullable() })),
});
export type StoredWebhook = z.infer<typeof storedWebhookSchema>;

export const webhookViewSchema = storedWebhookSchema.omit({ secrets: true }).extend({
  secretExpiresAt: z.array(z.string()).describe('expiry of previous secrets still signing after a rotation'),
});
export type WebhookView = z.infer<typeof webhookViewSchema>;

export const webhookWithSecretSchema = webhookViewSchema.extend({
  secret: z.string().describe('whsec_… signing secret; shown only here'),
});

/**
 * Any id that could be a key part is looked up, so an id that does not exist is a 404
 * whatever its form (`no-such-webhook` included); only ids that cannot be one (empty, too
 * long, spaces, braces, control characters, invalid UTF-8) are a 400.
 */
export const webhookIdParams = z.object({ id: idSchema.describe('Webhook id (wh_…)') });
export const deliveryParams = webhookIdParams.extend({
  deliveryId: idSchema.describe('Delivery id: the event id (evt_…)'),
});

const pageLimit = z.coerce.number().int().min(1).max(1_000).default(100);

/** Pages of endpoints: the cursor is the last webhook id of the previous page. */
export const webhookPageQuerySchema = z
  .object({
    limit: pageLimit,
    cursor: z.string().regex(/^wh_[0-9a-f]{32}$/, 'must be the "next" of the previous page (a webhook id)').optional(),
  })
  .strict();

/** Pages of the attempt log and the dead letters: the cursor is a position number. */
export const logPageQuerySchema = z
  .object({
    limit: pageLimit,
    cursor: z.string().regex(/^\d{1,15}$/, 'must be the "next" of the previous page (a number)').optional(),
  })
  .strict();

export const attemptSchema = z.object({
  seq: z.number(),
  deliveryId: z.string(),
  eventType: z.string(),
  attempt: z.number().describe('1-based attempt number within the current run'),
  at: z.string(),
  status: z.number().nullable().describe('HTTP status, null when no response'),
  durationMs: z.number(),
  outcome: z.enum(['delivered', 'retrying', 'dead', 'disabled']),
  responseBody: z.string().nullable().describe('first 4 KB of the response body'),
  error: z.string().nullable(),
  nextAttemptAt: z.string().nullable(),
});
export type Attempt = z.infer<typeof attemptSchema>;

export const deliveryViewSchema = z.object({
  id: z.string(),
  eventId: z.string(),
  eventType: z.string(),
  subject: z.string().nullable(),
  status: z.enum(['pending', 'retrying', 'delivered', 'dead']),
  attempts: z.number().describe('attempts in the current run'),
  totalAttempts: z.number(),
  run: z.number().describe('0 for the first run; +1 per redeliver/replay'),
  createdAt: z.string(),
  updatedAt: z.string(),
  nextAttemptAt: z.string().nullable(),
  lastStatus: z.number().nullable(),
  lastError: z.string().nullable(),
});
export type DeliveryView = z.infer<typeof deliveryViewSchema>;

export const replaySchema = z
  .object({
    since: z.iso.datetime({ offset: true, error: 'must be an ISO-8601 time such as 2026-11-25T10:00:00Z' }),
  })
  .strict();
