import { expect } from 'chai';
import { BackgroundValue } from '../../src/status/status-collector.js';

/** A load that takes `tookMs` of the test's clock and answers how many loads ran. */
function harness(options: { tookMs: number; maxIntervalMs?: number }) {
  let nowMs = 0;
  let loads = 0;
  const value = new BackgroundValue(
    async () => {
      nowMs += options.tookMs;
      return ++loads;
    },
    {
      minIntervalMs: 1_000,
      costFactor: 20,
      maxIntervalMs: options.maxIntervalMs,
      firstWaitMs: 100,
      onError: (err) => expect.fail(err.message),
      clock: () => nowMs,
    },
  );
  return {
    at: async (ms: number) => {
      nowMs = ms;
      const got = await value.get(ms);
      await new Promise((resolve) => setImmediate(resolve)); // let a reload started here settle
      return got?.data;
    },
    loads: () => loads,
  };
}

describe('BackgroundValue spacing', () => {
  it('reloads no sooner than minIntervalMs after a cheap load', async () => {
    const v = harness({ tookMs: 10 });
    expect(await v.at(0)).to.equal(1);
    await v.at(999);
    expect(v.loads()).to.equal(1);
    await v.at(1_000);
    expect(v.loads()).to.equal(2);
  });

  it('spaces reloads by costFactor × the load’s duration', async () => {
    const v = harness({ tookMs: 200 });
    await v.at(0);
    await v.at(3_999);
    expect(v.loads(), 'due at 20 × 200 ms').to.equal(1);
    await v.at(4_000);
    expect(v.loads()).to.equal(2);
  });

  it('never waits longer than maxIntervalMs, however long one load took', async () => {
    const capped = harness({ tookMs: 1_000, maxIntervalMs: 5_000 });
    await capped.at(0);
    await capped.at(4_999);
    expect(capped.loads()).to.equal(1);
    expect(await capped.at(5_000), 'the reload answers the newer value on the next read').to.equal(1);
    expect(await capped.at(6_001)).to.equal(2);

    const uncapped = harness({ tookMs: 1_000 });
    await uncapped.at(0);
    await uncapped.at(19_999);
    expect(uncapped.loads(), 'without a cap: 20 × 1 s').to.equal(1);
  });
});
