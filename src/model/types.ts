/**
 * The canonical model of DESIGN §3 as zod schemas; TypeScript types are inferred from them.
 * Observations are what strategies hand to the store; the served forms add the fields the
 * store owns (`observedAt`, `source`, `version`).
 */
import { z } from 'zod';
import { INSTANCE_STATES } from './states.js';

export const instanceStateSchema = z.enum(INSTANCE_STATES);

export const backendKindSchema = z.enum(['heat', 'deltacloud']);
export type BackendKind = z.infer<typeof backendKindSchema>;

export const addressesSchema = z.object({
  public: z.array(z.string()),
  private: z.array(z.string()),
});
export type Addresses = z.infer<typeof addressesSchema>;

/** What a strategy observed about one instance (backend data only). */
export const instanceObservationSchema = z.object({
  /** Backend physical id (Nova server id, Deltacloud instance id). */
  id: z.string().min(1).max(255),
  /** Heat stack id; `unassigned` when the source cannot tell. */
  deploymentId: z.string().min(1).max(255),
  /** Template resource name (or the cloud's instance name). */
  name: z.string().max(255),
  state: instanceStateSchema,
  backend: z.object({
    id: z.string().min(1),
    kind: backendKindSchema,
    /** The raw backend status this state was mapped from. */
    status: z.string().nullable(),
  }),
  addresses: addressesSchema,
  /** Backend time of the last change, ISO-8601, when the backend says. */
  updatedAt: z.string().datetime({ offset: true }).nullable(),
});
export type InstanceObservation = z.infer<typeof instanceObservationSchema>;

/** An instance as stored and served. */
export const instanceSchema = instanceObservationSchema.extend({
  observedAt: z.string(),
  source: z.string(),
  version: z.number().int().positive(),
});
export type Instance = z.infer<typeof instanceSchema>;

/** What a strategy observed about one deployment (Heat stack). */
export const deploymentObservationSchema = z.object({
  id: z.string().min(1).max(255),
  name: z.string().max(255),
  /** Raw Heat stack_status, e.g. CREATE_COMPLETE. */
  status: z.string().nullable(),
  statusReason: z.string().nullable(),
  outputs: z.array(
    z.object({
      key: z.string(),
      value: z.unknown(),
      description: z.string().nullable().optional(),
    }),
  ),
  backendId: z.string().min(1),
  updatedAt: z.string().datetime({ offset: true }).nullable(),
});
export type DeploymentObservation = z.infer<typeof deploymentObservationSchema>;

/** A deployment as stored and served; `instanceIds` comes from the cache's instance index. */
export const deploymentSchema = deploymentObservationSchema.extend({
  instanceIds: z.array(z.string()),
  observedAt: z.string(),
  source: z.string(),
  version: z.number().int().positive(),
});
export type Deployment = z.infer<typeof deploymentSchema>;

/** The deployment under which instances live when their source cannot name their stack. */
export const UNASSIGNED_DEPLOYMENT = 'unassigned';

export const FEED_EVENT_TYPES = [
  'instance.created',
  'instance.state_changed',
  'instance.updated',
  'instance.deleted',
  'deployment.created',
  'deployment.status_changed',
  'deployment.deleted',
  'gateway.strategy_changed',
] as const;
export type FeedEventType = (typeof FEED_EVENT_TYPES)[number];

/** One change-feed event; `cursor` is its stream position. */
export interface FeedEvent<T = unknown> {
  id: string;
  type: FeedEventType | string;
  occurredAt: string;
  data: { current: T | null; previous: T | null } | Record<string, unknown>;
  cursor: string;
  /** The instance or deployment the event is about (for filtering and ordering). */
  subject: string | null;
  deploymentId: string | null;
}
