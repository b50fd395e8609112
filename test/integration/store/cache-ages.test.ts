import { expect } from 'chai';
import { CacheAgeReader } from '../../../src/store/cache-ages.js';
import { useRedis } from '../../helpers/redis.js';
import { instanceObs } from '../../helpers/observations.js';
import { storeAndFeed } from '../../helpers/store.js';

describe('CacheAgeReader (real Redis)', () => {
  const ctx = useRedis();

  it('walks the instance index in chunks, each instance once, tombstones apart', async () => {
    const { store } = storeAndFeed(ctx);
    const now = Date.UTC(2026, 11, 1, 12);
    const ages = [500, 5_000, 30_000, 120_000];
    // 10 instances: ages by i % 4, srv-09 vanished afterwards.
    for (let i = 0; i < 10; i++) {
      await store.observeInstance(instanceObs({ id: `srv-${String(i).padStart(2, '0')}` }), { source: 's', observedAtMs: now - ages[i % 4]! });
    }
    await store.vanishInstances(['srv-09'], { source: 's', observedAtMs: now });
    // Chunks of 3 over 10 ids: 4 calls, the last one short.
    const read = await new CacheAgeReader(ctx.redis, ctx.prefix, 3).read(now);
    expect(read).to.deep.equal({ buckets: [3, 2, 2, 2], vanished: 1, chunks: 4 });
  });
});
