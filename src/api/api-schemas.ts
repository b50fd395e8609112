/**
 * zod schemas of the Conductor-facing API: path params, query strings and response bodies.
 * The routes validate with them and `/openapi.json` is generated from them.
 */
import { z } from 'zod';
import { INSTANCE_STATES } from '../model/states.js';
import { deploymentSchema, instanceSchema } from '../model/types.js';
import { CURSOR_PATTERN } from '../store/change-feed.js';
import { MAX_PAGE } from '../store/state-store.js';

const ID_PATTERN = /^[^\s{}\u0000-\u001f\u007f]+$/;
const ID_MAX_LENGTH = 255;

/** Same rule as the store's ids: they become part of Redis keys. */
export const idSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(ID_MAX_LENGTH, `must be at most ${ID_MAX_LENGTH} characters`)
  .regex(ID_PATTERN, 'must not contain spaces, braces or control characters')
  // The query parser turns invalid percent-encoded UTF-8 into U+FFFD; no backend id holds one.
  .refine((v) => !v.includes('\uFFFD'), 'must be valid UTF-8; percent-encode ids with encodeURIComponent');

/** {@link idSchema}'s rule without zod, for the reads served before express (fast-reads.ts). */
export function isValidId(value: string): boolean {
  return value.length >= 1 && value.length <= ID_MAX_LENGTH && ID_PATTERN.test(value) && !value.includes('\uFFFD');
}

export const idParams = z.object({ id: idSchema.describe('Instance or deployment id (backend id)') }).strict();

const limit = z.coerce
  .number({ error: 'must be a whole number' })
  .int('must be a whole number')
  .min(1, 'must be at least 1')
  .max(MAX_PAGE, `must be at most ${MAX_PAGE}`)
  .default(100)
  .describe(`Page size, 1..${MAX_PAGE}`);

const pageCursor = idSchema.describe('Exclusive: the `next` value of the previous page');

export const stateSchema = z
  .enum(INSTANCE_STATES, { error: `must be one of ${INSTANCE_STATES.join(', ')}` })
  .describe('Only instances in this canonical state');

const include = z
  .enum(['deleted'], { error: 'must be "deleted" (also list tombstones: deleted deployments, vanished instances)' })
  .describe('`deleted`: also list tombstones (deleted deployments, vanished instances) kept for feed.tombstoneTtlMs');

const stackStatus = z
  .string()
  .regex(/^[A-Z][A-Z_]{0,63}$/, 'must be a Heat stack status such as CREATE_COMPLETE or DELETE_COMPLETE')
  .describe('Only deployments with this raw Heat stack status (DELETE_COMPLETE lists deleted ones)');

export const deploymentsQuery = z.object({ limit, cursor: pageCursor.optional(), status: stackStatus.optional(), include: include.optional() }).strict();
export const deploymentInstancesQuery = z
  .object({ limit, cursor: pageCursor.optional(), state: stateSchema.optional(), include: include.optional() })
  .strict();
export const instancesQuery = z
  .object({
    limit,
    cursor: pageCursor.optional(),
    state: stateSchema.optional(),
    include: include.optional(),
    deploymentId: idSchema.describe('Only instances of this deployment').optional(),
  })
  .strict();

export const feedCursorSchema = z
  .string()
  .regex(CURSOR_PATTERN, 'must be a feed cursor (a previous `next` or event `cursor`, e.g. 1764064800000-0), or 0');

export const eventsQuery = z
  .object({
    after: feedCursorSchema.describe('Exclusive cursor; omit or 0 for the oldest event kept').optional(),
    limit,
  })
  .strict();

export const streamQuery = z
  .object({
    after: feedCursorSchema
      .describe('Exclusive cursor to start after (the Last-Event-ID header wins); 0 = oldest kept; omitted = only new events')
      .optional(),
  })
  .strict();

export const metaSchema = z.object({
  strategy: z.string().describe('Strategy that served the read'),
  observedAt: z.string().nullable().describe('Oldest observedAt among the served documents (null when none)'),
  ageMs: z.number().int().describe('now - observedAt, in ms'),
  stale: z
    .boolean()
    .describe("The strategy's last attempt to refresh this scope failed, or ageMs exceeds the strategy's staleness bound (tombstones never age)"),
  staleReason: z.string().optional().describe('Why the read is stale'),
});

const one = <T extends z.ZodType>(data: T) => z.object({ data, meta: metaSchema });
const list = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), meta: metaSchema, next: z.string().nullable().describe('Cursor of the next page, or null') });

export const instanceResponse = one(instanceSchema);
export const deploymentResponse = one(deploymentSchema);
export const instanceListResponse = list(instanceSchema);
export const deploymentListResponse = list(deploymentSchema);

export const feedEventSchema = z.object({
  id: z.string().describe('Stable event id (evt_…)'),
  type: z.string(),
  occurredAt: z.string(),
  data: z.record(z.string(), z.unknown()).describe('{current, previous} for cache changes'),
  cursor: z.string().describe('Stream position; pass as `after` to continue'),
});

export const eventsResponse = z.object({
  events: z.array(feedEventSchema),
  next: z.string().describe('Pass as `after` for the next page (equals `after` when nothing new)'),
  gap: z
    .boolean()
    .describe('true: retention removed events after `after`; reload state from the reads, then keep reading from `next`'),
});
