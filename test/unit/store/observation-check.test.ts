/** The hot path's hand check of an instance observation never accepts what zod refuses. */
import { expect } from 'chai';
import fc from 'fast-check';
import type { z } from 'zod';
import { instanceObservationSchema } from '../../../src/model/types.js';
import { INSTANCE_STATES } from '../../../src/model/states.js';
import { instancePushSchema } from '../../../src/store/instance-push.js';
import { plainlyValidInstance, plainlyValidPush } from '../../../src/store/observation-check.js';

const boundaryString = fc.oneof({ weight: 8, arbitrary: fc.string({ minLength: 1, maxLength: 8 }) }, { weight: 1, arbitrary: fc.string({ minLength: 250, maxLength: 260 }) }, { weight: 1, arbitrary: fc.constant('') });
const junk = fc.oneof(fc.constant(null), fc.constant(undefined), fc.integer(), fc.boolean(), fc.constant({}), fc.constant([]));
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 19, arbitrary: arb }, { weight: 1, arbitrary: junk });
const datetime = fc.oneof(
  fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('2026-02-30T00:00:00.000Z', '2024-02-29T00:00:00Z', '2025-02-29T00:00:00Z', '2026-13-01T00:00:00Z', '2026-11-30T24:00:00Z', '2026-11-30T10:00:00+02:00', '2026-11-30T10:00:00', '2026-11-30', 'yesterday', ''),
);
const observation = fc.record({
  id: maybe(boundaryString),
  deploymentId: maybe(boundaryString),
  name: maybe(boundaryString),
  state: maybe(fc.oneof(fc.constantFrom(...INSTANCE_STATES), fc.constantFrom('RUNNING', 'gone', ''))),
  backend: maybe(fc.record({ id: maybe(boundaryString), kind: maybe(fc.constantFrom('heat', 'deltacloud', 'nova')), status: maybe(fc.option(fc.string(), { nil: null })) })),
  addresses: maybe(fc.record({ public: maybe(fc.array(maybe(fc.string()), { maxLength: 3 })), private: maybe(fc.array(maybe(fc.string()), { maxLength: 3 })) })),
  updatedAt: maybe(fc.option(datetime, { nil: null })),
});

/**
 * Seeded property: whatever `check` accepts of 5,000 `values`, `schema` accepts too. The
 * property says something only if the check accepts a fair share, so that is asserted as well.
 */
function expectAcceptsOnlyWhatZodAccepts(check: (v: unknown) => boolean, schema: z.ZodType, values: fc.Arbitrary<unknown>): void {
  let accepted = 0;
  fc.assert(
    fc.property(values, (v) => {
      if (!check(v)) return;
      accepted++;
      expect(schema.safeParse(v).success, JSON.stringify(v)).to.equal(true);
    }),
    { seed: 15, numRuns: 5_000 },
  );
  expect(accepted).to.be.greaterThan(100);
}

describe('plainlyValidInstance', () => {
  it('accepts only what instanceObservationSchema accepts (seeded property)', () => {
    expectAcceptsOnlyWhatZodAccepts(plainlyValidInstance, instanceObservationSchema, observation);
  });

  it('accepts what a push observation looks like, and refuses a bad date zod refuses', () => {
    const o = { id: 'srv-1', deploymentId: 'stack-1', name: 'web', state: 'running', backend: { id: 'heat-1', kind: 'heat', status: 'ACTIVE' }, addresses: { public: [], private: ['10.0.0.5'] }, updatedAt: '2026-11-30T13:00:00.000Z' };
    expect(plainlyValidInstance(o)).to.equal(true);
    expect(plainlyValidInstance({ ...o, updatedAt: '2026-02-30T00:00:00.000Z' })).to.equal(false);
    expect(instanceObservationSchema.safeParse({ ...o, updatedAt: '2026-02-30T00:00:00.000Z' }).success).to.equal(false);
  });
});

const ms = fc.oneof(fc.integer({ min: -8.64e15, max: 8.64e15 }), fc.constantFrom(8.64e15 + 1, -8.64e15 - 1, Number.NaN, Infinity, 0.5));
const push = fc.record(
  {
    id: maybe(boundaryString),
    backendId: maybe(boundaryString),
    state: maybe(fc.oneof(fc.constantFrom(...INSTANCE_STATES), fc.constantFrom('RUNNING', 'gone', ''))),
    rawStatus: maybe(fc.option(fc.string(), { nil: null })),
    addresses: maybe(fc.record({ public: maybe(fc.array(maybe(fc.string()), { maxLength: 3 })), private: maybe(fc.array(maybe(fc.string()), { maxLength: 3 })) }, { requiredKeys: ['private'] })),
    atMs: maybe(fc.option(ms, { nil: null })),
    namesStack: maybe(fc.boolean()),
    observedAtMs: maybe(ms),
  },
  { requiredKeys: ['id', 'backendId', 'state', 'rawStatus', 'atMs', 'namesStack', 'observedAtMs'] },
);

describe('plainlyValidPush', () => {
  it('accepts only what instancePushSchema accepts (seeded property)', () => {
    expectAcceptsOnlyWhatZodAccepts(plainlyValidPush, instancePushSchema, push);
  });

  it('accepts what the push applier sends, with and without addresses and time', () => {
    const p = { id: 'srv-1', backendId: 'heat-1', state: 'running', rawStatus: 'ACTIVE', atMs: 1_764_064_800_000, namesStack: true, observedAtMs: 1_764_064_800_000 };
    expect(plainlyValidPush(p)).to.equal(true);
    expect(plainlyValidPush({ ...p, addresses: { private: ['10.0.0.5'] }, atMs: null, rawStatus: null })).to.equal(true);
    expect(plainlyValidPush({ ...p, addresses: { public: ['172.24.4.9'], private: [] } })).to.equal(true);
    expect(plainlyValidPush({ ...p, state: 'ACTIVE' })).to.equal(false);
  });
});
