/**
 * A hand-written check of an instance observation for the hot path (every pushed change):
 * zod's `safeParse` copies the whole object tree per observation, which showed in the
 * observe profile. The check accepts only what `instanceObservationSchema` accepts (the same
 * bounds, enums and zod's own datetime pattern); anything it does not accept goes to zod,
 * which decides and words the error. A property test holds it to that. The same for a push
 * (`instancePushSchema`).
 */
import { regexes } from 'zod';
import { INSTANCE_STATES } from '../model/states.js';
import type { InstanceObservation } from '../model/types.js';
import { MAX_DATE_MS, type InstancePush } from './instance-push.js';

const STATES = new Set<string>(INSTANCE_STATES);
/** The pattern of `z.string().datetime({ offset: true })` (instanceObservationSchema.updatedAt). */
const DATETIME = regexes.datetime({ offset: true, local: false, precision: null });

const stringOf = (v: unknown, min: number, max: number): boolean => typeof v === 'string' && v.length >= min && v.length <= max;

function strings(list: unknown): boolean {
  if (!Array.isArray(list)) return false;
  for (const s of list) if (typeof s !== 'string') return false;
  return true;
}

/** True when `value` certainly passes instanceObservationSchema; false: let zod decide. */
export function plainlyValidInstance(value: unknown): value is InstanceObservation {
  if (typeof value !== 'object' || value === null) return false;
  const { id, deploymentId, name, state, backend, addresses, updatedAt } = value as Record<string, unknown>;
  if (!stringOf(id, 1, 255) || !stringOf(deploymentId, 1, 255) || !stringOf(name, 0, 255)) return false;
  if (typeof state !== 'string' || !STATES.has(state)) return false;
  if (typeof backend !== 'object' || backend === null) return false;
  const b = backend as Record<string, unknown>;
  if (!stringOf(b.id, 1, Infinity) || (b.kind !== 'heat' && b.kind !== 'deltacloud') || (b.status !== null && typeof b.status !== 'string')) return false;
  if (typeof addresses !== 'object' || addresses === null) return false;
  const a = addresses as Record<string, unknown>;
  if (!strings(a.public) || !strings(a.private)) return false;
  return updatedAt === null || (typeof updatedAt === 'string' && DATETIME.test(updatedAt));
}

const dateMs = (v: unknown): boolean => typeof v === 'number' && v >= -MAX_DATE_MS && v <= MAX_DATE_MS;

/** True when `p` certainly passes instancePushSchema; false: let zod decide. */
export function plainlyValidPush(p: unknown): p is InstancePush {
  if (typeof p !== 'object' || p === null) return false;
  const { id, backendId, state, rawStatus, addresses, atMs, namesStack, observedAtMs } = p as Record<string, unknown>;
  if (!stringOf(id, 1, Infinity) || !stringOf(backendId, 1, Infinity)) return false;
  if (typeof state !== 'string' || !STATES.has(state)) return false;
  if (rawStatus !== null && typeof rawStatus !== 'string') return false;
  if (addresses !== undefined) {
    if (typeof addresses !== 'object' || addresses === null) return false;
    const a = addresses as Record<string, unknown>;
    if ((a.public !== undefined && !strings(a.public)) || !strings(a.private)) return false;
  }
  return (atMs === null || dateMs(atMs)) && typeof namesStack === 'boolean' && dateMs(observedAtMs);
}
