/**
 * The status snapshot: everything the status page shows, as data. `GET /status/snapshot`
 * serves it as JSON (validated by this schema in tests, documented in `/openapi.json`); the
 * HTML sections are rendered from the same object.
 */
import { z } from 'zod';
import { deliveryViewSchema } from '../webhooks/webhook-schemas.js';

const iso = z.string().describe('ISO-8601 time');

export const backendStatusSchema = z.object({
  id: z.string(),
  kind: z.string(),
  strategy: z.string().describe('the strategy serving this backend'),
  health: z.enum(['ok', 'degraded', 'down', 'unknown']).describe('down: not reachable; degraded: reachable but recent requests or syncs fail'),
  reachable: z.boolean().nullable().describe('null until the first check answered'),
  reachError: z.string().nullable(),
  lastSyncAt: iso.nullable().describe('last successful sync by any live replica'),
  lastFailedSyncAt: iso.nullable(),
  requestRate: z.number().describe('backend requests per second over the last minute, all live replicas'),
  errorRate: z.number().describe('failed backend requests per second over the last minute'),
  history: z.array(z.number()).describe('requestRate, oldest first, one point per sample'),
});

export const webhookStatusSchema = z.object({
  id: z.string(),
  url: z.string(),
  description: z.string().nullable(),
  ordered: z.boolean(),
  enabled: z.boolean(),
  disabledAt: iso.nullable(),
  disabledReason: z.string().nullable(),
  failingSince: iso.nullable(),
  lastSuccessAt: iso.nullable(),
  state: z.enum(['ok', 'idle', 'failing', 'disabled']),
  attempts: z.number().int().describe('attempts in the window (last hour, newest 500)'),
  successRate: z.number().nullable(),
  p99LatencyMs: z.number().nullable(),
  backlog: z.number().int(),
  backlogCapped: z.boolean(),
  deadLetters: z.number().int(),
  dead: z.array(deliveryViewSchema),
});

export const replicaStatusSchema = z.object({
  id: z.string(),
  host: z.string(),
  pid: z.number().int(),
  version: z.string(),
  startedAt: iso,
  lastBeatAt: iso,
  strategy: z.string().nullable(),
  rssBytes: z.number(),
  self: z.boolean().describe('the replica that answered this request'),
});

export const statusSnapshotSchema = z.object({
  generatedAt: iso,
  version: z.string(),
  viewer: z.object({ name: z.string(), role: z.string(), canControl: z.boolean() }),
  strategy: z.object({
    name: z.string(),
    since: iso.nullable(),
    by: z.string().nullable(),
    available: z.array(z.string()),
    perBackend: z.boolean().describe('true when a strategy can be set per backend'),
  }),
  backends: z.array(backendStatusSchema),
  cache: z.object({
    instances: z.number().int(),
    deployments: z.number().int(),
    vanished: z.number().int().nullable(),
    ages: z
      .object({ under1s: z.number().int(), under10s: z.number().int(), under1m: z.number().int(), older: z.number().int() })
      .nullable()
      .describe('instances by age of their last observation; null until the first count finished'),
    agesAt: iso.nullable(),
  }),
  feed: z.object({
    length: z.number().int(),
    ratePerSecond: z.number().nullable().describe('events appended per second over the last 10 s; null until two samples'),
    history: z.array(z.number()),
    firstCursor: z.string().nullable(),
    lastCursor: z.string().nullable(),
    maxLength: z.number().int(),
    maxAgeMs: z.number().int(),
  }),
  queues: z.record(z.string(), z.record(z.string(), z.number())),
  webhooks: z.array(webhookStatusSchema),
  replicas: z.array(replicaStatusSchema),
});

export type StatusSnapshot = z.infer<typeof statusSnapshotSchema>;
export type BackendStatus = z.infer<typeof backendStatusSchema>;
export type WebhookStatus = z.infer<typeof webhookStatusSchema>;
