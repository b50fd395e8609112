import { expect } from 'chai';
import fc from 'fast-check';
import { idSchema, isValidId } from '../../../src/api/api-schemas.js';

describe('isValidId (the reads served before express check ids without zod)', () => {
  it('agrees with idSchema on the edges', () => {
    const cases = ['', 'a', 'srv-1', 'a'.repeat(255), 'a'.repeat(256), 'a b', 'a\tb', '{x}', 'x}', 'a\u0000', 'a\u007f', 'ü', 'a\uFFFDb', '😀', 'a/b', '%2F'];
    for (const id of cases) expect(isValidId(id), JSON.stringify(id)).to.equal(idSchema.safeParse(id).success);
  });

  it('agrees with idSchema on any string', () => {
    const anyString = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme-ascii', minLength: 250, maxLength: 260 }));
    fc.assert(fc.property(anyString, (id) => isValidId(id) === idSchema.safeParse(id).success), { numRuns: 2_000, seed: 15 });
  });
});
