/** Wire schemas of Heat's orchestration API v1, as the Heat client validates its answers. */
import { z } from 'zod';

// ---------------------------------------------------------------------------------------
// Wire schemas (Heat orchestration API v1). Only the fields we use are validated; unknown
// fields are dropped. Heat prints null for absent times and reasons, hence `.nullish()`.

const linkSchema = z.object({ href: z.string(), rel: z.string() });

export const heatStackSchema = z.object({
  id: z.string().min(1),
  stack_name: z.string().min(1),
  stack_status: z.string().nullish(),
  stack_status_reason: z.string().nullish(),
  creation_time: z.string().nullish(),
  updated_time: z.string().nullish(),
  /** Only in show-stack answers. */
  outputs: z
    .array(
      z.object({
        output_key: z.string(),
        output_value: z.unknown().optional(),
        description: z.string().nullish(),
        output_error: z.string().nullish(),
      }),
    )
    .nullish(),
  links: z.array(linkSchema).nullish(),
});
export type HeatStack = z.infer<typeof heatStackSchema>;

export const stackListSchema = z.object({ stacks: z.array(heatStackSchema), links: z.array(linkSchema).nullish() });
export const stackShowSchema = z.object({ stack: heatStackSchema });

export const heatResourceSchema = z.object({
  resource_name: z.string().min(1),
  logical_resource_id: z.string().nullish(),
  /** Empty until the underlying thing (e.g. the Nova server) exists. */
  physical_resource_id: z.string().nullish(),
  resource_status: z.string().nullish(),
  resource_status_reason: z.string().nullish(),
  resource_type: z.string(),
  creation_time: z.string().nullish(),
  updated_time: z.string().nullish(),
  /** Name of the resource in the parent stack that owns this nested stack's resource. */
  parent_resource: z.string().nullish(),
  /** Present with `with_detail=true`. */
  attributes: z.record(z.string(), z.unknown()).nullish(),
  links: z.array(linkSchema).nullish(),
});
export type HeatResource = z.infer<typeof heatResourceSchema>;

export const resourceListSchema = z.object({ resources: z.array(heatResourceSchema) });

export const heatEventSchema = z.object({
  id: z.string().min(1),
  event_time: z.string().nullish(),
  resource_name: z.string().nullish(),
  logical_resource_id: z.string().nullish(),
  physical_resource_id: z.string().nullish(),
  resource_action: z.string().nullish(),
  resource_status: z.string().nullish(),
  resource_status_reason: z.string().nullish(),
  resource_type: z.string().nullish(),
  links: z.array(linkSchema).nullish(),
});
export type HeatEvent = z.infer<typeof heatEventSchema>;

export const eventListSchema = z.object({ events: z.array(heatEventSchema) });

/** Heat's `{explanation, code, error: {message, traceback, type}, title}` error document. */
export const heatErrorSchema = z.object({
  code: z.number().optional(),
  title: z.string().optional(),
  explanation: z.string().optional(),
  error: z.object({ message: z.string().optional(), type: z.string().optional() }).optional(),
});

