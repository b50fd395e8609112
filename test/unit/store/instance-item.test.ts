/**
 * The observe script compares a record's stored content with the new one byte for byte, so
 * instanceItem must write exactly what JSON.stringify of the objects wrote (the form every
 * stored record has): otherwise an unchanged instance would count as a change after an upgrade.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { InstanceObservation } from '../../../src/model/types.js';
import { instanceItem } from '../../../src/store/observe-calls.js';

/** The content as it was built before instanceItem stopped building objects. */
function reference(o: InstanceObservation): string {
  return (
    `"id":${JSON.stringify(o.id)},"deploymentId":${JSON.stringify(o.deploymentId)},` +
    `"name":${JSON.stringify(o.name)},"state":"${o.state}",` +
    `"backend":${JSON.stringify({ id: o.backend.id, kind: o.backend.kind, status: o.backend.status })},` +
    `"addresses":${JSON.stringify({ public: [...o.addresses.public].sort(), private: [...o.addresses.private].sort() })}`
  );
}

describe('instanceItem', () => {
  it('writes the content byte for byte as JSON.stringify of the objects (seeded property)', () => {
    const text = fc.string({ unit: 'binary', maxLength: 12 });
    const observation = fc.record({
      id: text,
      deploymentId: text,
      name: text,
      state: fc.constantFrom('running', 'stopped', 'pending', 'vanished', 'error'),
      backend: fc.record({ id: text, kind: fc.constantFrom('heat', 'deltacloud'), status: fc.option(text, { nil: null }) }),
      addresses: fc.record({ public: fc.array(text, { maxLength: 4 }), private: fc.array(text, { maxLength: 4 }) }),
      updatedAt: fc.constant(null),
    }) as fc.Arbitrary<InstanceObservation>;
    fc.assert(
      fc.property(observation, (o) => {
        expect(instanceItem(o).args[4]).to.equal(reference(o));
      }),
      { seed: 15, numRuns: 2_000 },
    );
  });

  it('leaves the observation’s address lists unsorted', () => {
    const o = { id: 'a', deploymentId: 'd', name: 'n', state: 'running', backend: { id: 'heat-1', kind: 'heat', status: null }, addresses: { public: ['b', 'a'], private: ['z', 'y'] }, updatedAt: null } as InstanceObservation;
    expect(instanceItem(o).args[4]).to.contain('"public":["a","b"],"private":["y","z"]');
    expect(o.addresses.public).to.deep.equal(['b', 'a']);
  });
});
