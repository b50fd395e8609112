/**
 * parseJsonList must give exactly what JSON.parse gives whenever it takes a body, and must
 * decline (undefined) whatever JSON.parse would refuse, so express.json still answers it.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { LARGE_BODY_BYTES, parseJsonList, parseLargeList } from '../../../src/http/json-list.js';

const parseOrUndefined = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** Strings with what a cutter could trip on: quotes, backslashes, brackets, commas, non-ASCII. */
const tricky = fc.string({ unit: fc.constantFrom('"', '\\', '[', ']', '{', '}', ',', ' ', '\n', 'a', 'é', '😀', '\u0000', '\u2028') });
const value = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.double({ noNaN: true, noDefaultInfinity: true }), tricky, tie('list'), tie('object')),
  list: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(tricky, tie('value'), { maxKeys: 4 }),
})).value;
const element = fc.oneof(fc.dictionary(tricky, value, { maxKeys: 5 }), fc.array(value, { maxLength: 5 }));
/** A list of objects or lists as JSON, compact or indented. */
const listText = fc.tuple(fc.array(element, { minLength: 1, maxLength: 8 }), fc.constantFrom(undefined, 1, 2, '\t')).map(([list, indent]) => JSON.stringify(list, null, indent));

describe('parseJsonList', () => {
  it('gives what JSON.parse gives for a list of objects or lists (seeded property)', () => {
    fc.assert(
      fc.property(listText, (text) => {
        expect(parseJsonList(Buffer.from(text))).to.deep.equal(JSON.parse(text));
      }),
      { seed: 11, numRuns: 2_000 },
    );
  });

  it('declines whatever JSON.parse refuses, and never gives anything else (seeded property)', () => {
    const edit = fc.record({
      at: fc.nat(),
      remove: fc.nat({ max: 3 }),
      insert: fc.string({ unit: fc.constantFrom('"', '\\', '[', ']', '{', '}', ',', ' ', 'x', '1', ':'), maxLength: 3 }),
    });
    fc.assert(
      fc.property(listText, edit, (text, { at, remove, insert }) => {
        const cut = at % (text.length + 1);
        // As bytes, as a request carries it (an edit inside a surrogate pair becomes U+FFFD).
        const broken = Buffer.from(text.slice(0, cut) + insert + text.slice(cut + remove));
        const mine = parseJsonList(broken);
        const theirs = parseOrUndefined(broken.toString('utf8'));
        if (theirs === undefined) expect(mine, broken.toString()).to.equal(undefined);
        else if (mine !== undefined) expect(mine, broken.toString()).to.deep.equal(theirs);
      }),
      { seed: 12, numRuns: 5_000 },
    );
  });

  it('declines a body that is not a list of objects or lists, or has more after it', () => {
    for (const text of ['{"a":[{}]}', '[]', ' [ ] ', '[1,{}]', '[{}, 2]', '["a"]', '[{}] x', '[{}][{}]', '[{},]', '[,{}]', '\uFEFF[{}]', '[{}', '']) {
      expect(parseJsonList(Buffer.from(text)), JSON.stringify(text)).to.equal(undefined);
    }
    expect(parseJsonList(Buffer.from(' \r\n\t[ {"a":"]}\\"["} ,\n[1] ]\n '))).to.deep.equal([{ a: ']}"[' }, [1]]);
  });
});

describe('parseLargeList', () => {
  const list = (bytes: number) => Buffer.from(`[${'{"a":"x"},'.repeat(Math.ceil(bytes / 10))}{}]`);

  it('takes only UTF-8 bodies over V8’s regular object size', () => {
    expect(parseLargeList(list(LARGE_BODY_BYTES - 100), 'utf-8')).to.equal(undefined);
    expect(parseLargeList(list(LARGE_BODY_BYTES + 100), 'utf-16le')).to.equal(undefined);
    const parsed = parseLargeList(list(LARGE_BODY_BYTES + 100), 'utf-8');
    expect(parsed?.elements).to.have.length(Math.ceil((LARGE_BODY_BYTES + 100) / 10) + 1);
  });
});
