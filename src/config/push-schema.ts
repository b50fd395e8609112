/**
 * The `backends[].push` section: how a backend pushes to the gateway (HTTP ingest with a
 * token or signature, a Zaqar-style subscription) or how the gateway pulls pushes from the
 * cloud's notification bus (`amqp`). Kept apart from schema.ts so each section stays small.
 */
import { z } from 'zod';
import { DAY, durationMs, HOUR, httpUrl, SECOND } from './zod-helpers.js';

/**
 * Push over RPC (DESIGN §10): the gateway's own durable queue on the cloud's RabbitMQ,
 * bound to the notification exchanges. The URL's password is never logged.
 */
export const amqpPushSchema = z
  .object({
    url: z
      .string({ error: 'must be an amqp:// or amqps:// URL string' })
      .refine((v) => /^amqps?:\/\/[^\s]+$/i.test(v) && URL.canParse(v), {
        message: 'must be an amqp:// or amqps:// URL, e.g. amqp://user:pass@rabbit.example.com:5672/',
      }),
    /** Exchanges the notifiers publish to (oslo: the service's control_exchange). @defaultValue [heat, nova] */
    exchanges: z.array(z.string().min(1).max(255)).min(1).default(['heat', 'nova']),
    /** Routing keys (`<topic>.<priority>`); add versioned_notifications.info for Nova's versioned format. */
    topics: z.array(z.string().min(1).max(255)).min(1).default(['notifications.info', 'notifications.error']),
    /** The gateway's own durable queue; never a queue another consumer (Ceilometer) reads. */
    queue: z
      .string()
      .min(1)
      .max(255)
      .refine((q) => !/^(versioned_)?notifications\.[a-z]+$/.test(q), {
        message: 'must be the gateway\'s own queue (e.g. heat-gateway.heat-1): a shared notifications.* queue splits messages with Ceilometer',
      }),
    /** Unacknowledged messages in flight per consumer. @defaultValue 100 */
    prefetch: z.number().int().min(1).max(10_000).default(100),
  })
  .strict();

export const pushSchema = z
  .object({
    amqp: amqpPushSchema.optional(),
    /** Bearer token the backend presents at the ingest endpoint (role `backend` also works). */
    token: z.string().min(16).optional(),
    /** Shared secret for an HMAC-SHA256 signature header on pushes. */
    signingSecret: z.string().min(16).optional(),
    /** @defaultValue X-Signature */
    signatureHeader: z.string().min(1).default('X-Signature'),
    /** Zaqar-style subscription API of the backend; the webhook strategy subscribes there. */
    subscriptionUrl: httpUrl('push.subscriptionUrl').optional(),
    /** @defaultValue 3600000 (1 h) */
    subscriptionTtlMs: durationMs(10 * SECOND, 30 * DAY).default(HOUR),
  })
  .strict();

export type AmqpPushConfig = z.infer<typeof amqpPushSchema>;
export type PushConfig = z.infer<typeof pushSchema>;
