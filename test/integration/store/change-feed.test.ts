import { expect } from 'chai';
import { ChangeFeed, compareCursors } from '../../../src/store/change-feed.js';
import { StateStore } from '../../../src/store/state-store.js';
import { InputError } from '../../../src/errors.js';
import { Redis } from 'ioredis';
import { useRedis, waitFor } from '../../helpers/redis.js';
import { at, instanceObs } from '../../helpers/observations.js';

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

  it('reads a change back as {id, type, occurredAt, data: {current, previous}}, the documents served after and before it', async () => {
    const limits = { maxLength: 10_000, maxAgeMs: 86_400_000 };
    const store = new StateStore(ctx.redis, ctx.prefix, limits);
    const feed = new ChangeFeed(ctx.redis, ctx.prefix, limits);
    await store.observeInstance(instanceObs({ updatedAt: at(0) }), { source: 's' });
    const before = await store.getInstance('srv-1');
    const moved = { state: 'stopped' as const, backend: { id: 'heat-1', kind: 'heat' as const, status: 'SHUTOFF' }, updatedAt: at(5) };
    await store.observeInstance(instanceObs(moved), { source: 'webhook' });
    const after = await store.getInstance('srv-1');
    const [created, changed] = (await feed.read('0', 10)).entries;
    const id = (json: string) => (JSON.parse(json) as { id: string }).id;
    // Byte for byte: the stream keeps the parts, the reader puts them together in this order.
    expect(created!.json).to.equal(
      JSON.stringify({ id: id(created!.json), type: 'instance.created', occurredAt: at(0), data: { current: before, previous: null } }),
    );
    expect(changed!.json).to.equal(
      JSON.stringify({ id: id(changed!.json), type: 'instance.state_changed', occurredAt: at(5), data: { current: after, previous: before } }),
    );
  });

  it('reads an entry written in the earlier layout (the whole event in one field) as it was written', async () => {
    const feed = new ChangeFeed(ctx.redis, ctx.prefix, { maxLength: 10_000, maxAgeMs: 86_400_000 });
    const json = '{"id":"evt_1","type":"instance.created","occurredAt":"2026-11-25T10:00:00.000Z","data":{"current":{"id":"srv-1"},"previous":null}}';
    await ctx.redis.xadd(`${ctx.prefix}feed`, '*', 'e', json, 't', 'instance.created', 'k', 'srv-1', 'g', 'stack-1');
    const [entry] = (await feed.read('0', 10)).entries;
    expect(entry).to.include({ json, type: 'instance.created', subject: 'srv-1', deploymentId: 'stack-1' });
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

describe('FeedConsumerGroup acknowledgements (real Redis)', () => {
  const ctx = useRedis();

  it('acknowledgements made within ACK_WINDOW_MS share one XACK, and each resolves once Redis has it', async () => {
    const feed = new ChangeFeed(ctx.redis, ctx.prefix, { maxLength: 10_000, maxAgeMs: 86_400_000 }, Date.now, () => {}, () => new Redis(ctx.url));
    const group = feed.group('acks');
    await group.ensure('0');
    for (let i = 0; i < 5; i++) await feed.append('gateway.strategy_changed', { i });
    const { entries } = await group.read('c1', { count: 10, blockMs: 10, alongside: `${ctx.prefix}none` });
    expect(entries).to.have.length(5);
    expect((await group.lag()).pending).to.equal(5);

    // MONITOR, on a connection ioredis opens for it, sees every XACK Redis runs.
    const monitor = await ctx.redis.monitor();
    const xacks: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => args[0]?.toLowerCase() === 'xack' && xacks.push(args));
    try {
      await Promise.all(entries.map((e) => group.ack([e.cursor])));
      expect((await group.lag()).pending).to.equal(0);
      // The monitor's copy of the command may trail its reply: wait for it, then for nothing more.
      await waitFor(() => xacks.length > 0, { what: 'the XACK seen by MONITOR' });
      expect(xacks).to.have.length(1);
      expect(xacks[0]!.slice(3)).to.deep.equal(entries.map((e) => e.cursor));
    } finally {
      monitor.disconnect();
      group.interrupt();
    }
  });
});
