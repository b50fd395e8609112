/**
 * Event ids come from a pooled buffer of random bytes, refilled every 256 ids: each id must
 * still be the documented form, and no two alike, across refills.
 */
import { expect } from 'chai';
import { newEventId } from '../../../src/store/observe-calls.js';

describe('newEventId', () => {
  it('gives evt_ and 32 hex characters, each id distinct across several refills of its pool', () => {
    const ids = Array.from({ length: 1_000 }, newEventId);
    for (const id of ids) expect(id).to.match(/^evt_[0-9a-f]{32}$/);
    expect(new Set(ids).size).to.equal(ids.length);
    // 128 random bits each: the hex digits of 1,000 ids are spread over all 16 values.
    const digits = new Set(ids.join('').replaceAll('evt_', ''));
    expect(digits.size).to.equal(16);
  });
});
