/**
 * Fault knobs per simulated API, validated by zod (the same schema checks
 * `POST /_sim/faults` bodies and CLI flags), and the decisions taken on each request.
 */
import { z } from 'zod';
import { Prng } from './prng.js';

export const SIM_APIS = ['keystone', 'heat', 'deltacloud', 'zaqar'] as const;
export type SimApi = (typeof SIM_APIS)[number];

const rate = z.number().min(0).max(1);
const ms = z.number().int().min(0).max(3_600_000);

export const apiFaultsSchema = z
  .object({
    /** Added to every response. */
    latencyMs: ms.optional(),
    /** Uniform extra latency in [0, jitterMs). */
    jitterMs: ms.optional(),
    /** Share of requests answered with an error in the API's own error format. */
    errorRate: rate.optional(),
    /** Status of injected errors. @defaultValue 500 */
    errorStatus: z.union([z.literal(500), z.literal(503)]).optional(),
    /** Share of requests never answered (until the client gives up). */
    hangRate: rate.optional(),
    /** Share of requests answered 200 with the body cut in half (malformed JSON/XML). */
    malformedRate: rate.optional(),
    /** An outage starting now (wall clock) for `durationMs`. */
    outage: z
      .object({
        durationMs: ms,
        /** `refuse` resets the connection; `unavailable` answers 503 in the API's format. */
        mode: z.enum(['refuse', 'unavailable']).default('unavailable'),
      })
      .strict()
      .optional(),
  })
  .strict();
export type ApiFaults = z.infer<typeof apiFaultsSchema>;

export const keystoneFaultsSchema = apiFaultsSchema
  .extend({
    /** Tokens stop being accepted this long (world time) after issue, whatever expires_at says. */
    earlyExpiryMs: ms.optional(),
  })
  .strict();

export const pushFaultsSchema = z
  .object({
    dropRate: rate.optional(),
    duplicateRate: rate.optional(),
    delayMs: ms.optional(),
    jitterMs: ms.optional(),
  })
  .strict();
export type PushFaults = z.infer<typeof pushFaultsSchema>;

export const faultsSchema = z
  .object({
    keystone: keystoneFaultsSchema.optional(),
    heat: apiFaultsSchema.optional(),
    deltacloud: apiFaultsSchema.optional(),
    zaqar: apiFaultsSchema.optional(),
    push: pushFaultsSchema.optional(),
  })
  .strict();
export type Faults = z.infer<typeof faultsSchema>;

export type FaultDecision =
  | { kind: 'none'; delayMs: number }
  | { kind: 'refuse' }
  | { kind: 'hang' }
  | { kind: 'malformed'; delayMs: number }
  | { kind: 'error'; status: 500 | 503; delayMs: number; reason: string };

export class FaultInjector {
  private faults: Faults = {};
  private readonly outageUntil = new Map<SimApi, { untilMs: number; mode: 'refuse' | 'unavailable' }>();
  private readonly prng: Prng;

  constructor(seed: number | string, initial?: Faults) {
    // Its own stream, so faults never perturb the world's change sequence.
    this.prng = new Prng(`${String(seed)}:faults`);
    if (initial) this.set(initial);
  }

  /** Merges `faults` into the current set (per API, per knob); outages start now. */
  set(faults: Faults): void {
    const parsed = faultsSchema.parse(faults);
    const merged: Faults = { ...this.faults };
    for (const key of Object.keys(parsed) as (keyof Faults)[]) {
      merged[key] = { ...(merged[key] ?? {}), ...(parsed[key] ?? {}) } as never;
    }
    this.faults = merged;
    for (const api of SIM_APIS) {
      const outage = parsed[api]?.outage;
      if (outage) this.outageUntil.set(api, { untilMs: Date.now() + outage.durationMs, mode: outage.mode });
    }
  }

  clear(): void {
    this.faults = {};
    this.outageUntil.clear();
  }

  current(): Faults {
    return structuredClone(this.faults);
  }

  push(): PushFaults {
    return this.faults.push ?? {};
  }

  earlyExpiryMs(): number | undefined {
    return this.faults.keystone?.earlyExpiryMs;
  }

  /** What to do with one request to `api`. */
  decide(api: SimApi): FaultDecision {
    const outage = this.outageUntil.get(api);
    if (outage) {
      if (Date.now() < outage.untilMs) {
        return outage.mode === 'refuse'
          ? { kind: 'refuse' }
          : { kind: 'error', status: 503, delayMs: 0, reason: 'outage' };
      }
      this.outageUntil.delete(api);
    }
    const f = this.faults[api];
    if (!f) return { kind: 'none', delayMs: 0 };
    if (f.hangRate && this.prng.chance(f.hangRate)) return { kind: 'hang' };
    const delayMs = (f.latencyMs ?? 0) + (f.jitterMs ? this.prng.next() * f.jitterMs : 0);
    if (f.errorRate && this.prng.chance(f.errorRate)) {
      return { kind: 'error', status: f.errorStatus ?? 500, delayMs, reason: 'injected' };
    }
    if (f.malformedRate && this.prng.chance(f.malformedRate)) return { kind: 'malformed', delayMs };
    return { kind: 'none', delayMs };
  }

  /** Push decisions for one message: copies to send (0 = dropped) and each copy's delay. */
  decidePush(): number[] {
    const f = this.faults.push ?? {};
    if (f.dropRate && this.prng.chance(f.dropRate)) return [];
    const copies = f.duplicateRate && this.prng.chance(f.duplicateRate) ? 2 : 1;
    const out: number[] = [];
    for (let i = 0; i < copies; i++) {
      out.push((f.delayMs ?? 0) + (f.jitterMs ? this.prng.next() * f.jitterMs : 0));
    }
    return out;
  }
}
