import { expect } from 'chai';
import { ChangeFeed, compareCursors } from '../../../src/store/change-feed.js';
import { StateStore } from '../../../src/store/state-store.js';
import { InputError } from '../../../src/errors.js';
import { useRedis } from '../../helpers/redis.js';
import { instanceObs } from '../../helpers/observations.js';

describe('ChangeFeed (real Redis)', () => {
  const ctx = useRedis();

  it('reads by cursor, page after page, without loss or repeats', async () => {
    const feed = new ChangeFeed(ctx.redis, ctx.prefix, { maxLength: 10_000, maxAgeMs: 86_400_000 });
    for (let i = 0; i < 25; i++) await feed.append('gateway.strategy_changed', { i });
    const seen: number[] = [];
    let after = '0';
    for (;;) {
      const page = await feed.read(after, 10);
      if (page.entries.length === 0) break;
      expect(page.gap).to.equal(false);
      seen.push(...page.entries.map((e) => (JSON.parse(e.json) as { data: { i: number } }).data.i));
      after = page.next;
    }
    expect(seen).to.deep.equal(Array.from({ length: 25 }, (_, i) => i));
    // Nothing new: next stays put so the caller can poll with it.
    const empty = await feed.read(after, 10);
    expect(empty).to.deep.equal({ entries: [], next: after, gap: false });
  });

  it('carries type, subject and deployment for filtering', async () => {
    const store = new StateStore(ctx.redis, ctx.prefix, { maxLength: 10_000, maxAgeMs: 86_400_000 });
    const feed = new ChangeFeed(ctx.redis, ctx.prefix, { maxLength: 10_000, maxAgeMs: 86_400_000 });
    await store.observeInstance(instanceObs({ id: 'srv-9', deploymentId: 'stack-3' }), { source: 's' });
    const [entry] = (await feed.read('0', 10)).entries;
    expect(entry).to.include({ type: 'instance.created', subject: 'srv-9', deploymentId: 'stack-3' });
  });

  it('bounds the stream by count and reports the gap to a reader left behind', async () => {
    const feed = new ChangeFeed(ctx.redis, ctx.prefix, { maxLength: 100, maxAgeMs: 86_400_000 });
    const first = await feed.append('gateway.strategy_changed', { i: 0 });
    for (let i = 1; i < 1_000; i++) await feed.append('gateway.strategy_changed', { i });
    const info = await feed.info();
    // Approximate trimming works in whole stream nodes (100 entries by default).
    expect(info.length).to.be.below(300);
    expect(info.length).to.be.at.least(100);
    const behind = await feed.read(first.cursor, 10);
    expect(behind.gap).to.equal(true);
    expect(compareCursors(behind.entries[0]!.cursor, first.cursor)).to.equal(1);
    const current = await feed.read(info.lastCursor!, 10);
    expect(current.gap).to.equal(false);
  });

  it('bounds the stream by age', async () => {
    let now = Date.now();
    const feed = new ChangeFeed(ctx.redis, ctx.prefix, { maxLength: 1_000_000, maxAgeMs: 60_000 }, () => now);
    for (let i = 0; i < 500; i++) await feed.append('gateway.strategy_changed', { i });
    expect((await feed.info()).length).to.equal(500);
    now += 61_000; // every entry so far is now older than maxAgeMs
    await feed.append('gateway.strategy_changed', { i: 500 });
    // Whole nodes of expired entries are gone; what is left is the last partial node at most.
    expect((await feed.info()).length).to.be.below(101);
  });

  it('rejects a malformed cursor naming the parameter', async () => {
    const feed = new ChangeFeed(ctx.redis, ctx.prefix, { maxLength: 100, maxAgeMs: 60_000 });
    for (const bad of ['abc', '1-2-3', '-1', '1e5', "'; DROP"]) {
      const err = await feed.read(bad, 10).then(() => null, (e: unknown) => e);
      expect(err, bad).to.be.instanceOf(InputError);
      expect((err as InputError).errors[0]!.path).to.equal('after');
    }
  });

  it('an empty feed reads as empty', async () => {
    const feed = new ChangeFeed(ctx.redis, ctx.prefix, { maxLength: 100, maxAgeMs: 60_000 });
    expect(await feed.read(undefined, 10)).to.deep.equal({ entries: [], next: '0', gap: false });
    expect((await feed.info()).length).to.equal(0);
  });
});
