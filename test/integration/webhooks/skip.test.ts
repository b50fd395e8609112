/**
 * The fan-out with no endpoint enabled (none registered, or all disabled) moves its consumer
 * group past the feed instead of reading every entry (SKIP_LUA), and an endpoint registered or
 * re-enabled meanwhile still gets every event appended after its `startCursor` or re-enabling.
 */
import { expect } from 'chai';
import { compareCursors } from '../../../src/store/change-feed.js';
import { CONSUMER_GROUP } from '../../../src/webhooks/feed-fanout.js';
import { monitorRedis, testRedis, waitFor, type MonitoredCommand } from '../../helpers/redis.js';
import { instanceObs } from '../../helpers/observations.js';
import { startHarness, type Harness } from './webhook-harness.js';

describe('webhook fan-out with no endpoint enabled', function () {
  this.timeout(60_000);
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  /** Runs observes of `servers` servers, every one a change, until stopped; returns their cursors in feed order. */
  function observeLoop(harness: Harness, servers = 20): { cursors: string[]; stop(): Promise<void> } {
    const cursors: string[] = [];
    let running = true;
    let round = 0;
    const done = (async () => {
      while (running) {
        round++;
        const state = round % 2 === 0 ? 'running' : 'stopped';
        const batch = Array.from({ length: servers }, (_, i) => instanceObs({ id: `srv-${i}`, state, updatedAt: null }));
        const results = await harness.gateway.store.observeInstances(batch, { source: 'test' });
        for (const r of results) if (r.cursor) cursors.push(r.cursor);
      }
    })();
    return {
      cursors,
      async stop() {
        running = false;
        await done;
      },
    };
  }

  const cursorOf = (body: string) => (JSON.parse(body) as { data: { cursor: string } }).data.cursor;

  it('reads no feed entry: it moves the group past them (a test that fails without the skip)', async () => {
    h = await startHarness();
    const feedKey = h.gateway.feed.keys.feed;
    const seen: MonitoredCommand[] = [];
    const monitor = await monitorRedis(h.gateway.config.redis.url, (c) => {
      if (c.args.includes(feedKey)) seen.push(c);
    });
    try {
      const events = await h.append(300);
      await waitFor(() => h!.module.idle(), { what: 'the fan-out caught up' });
      const lastCursor = (await testRedis(h.gateway.config.redis.url).xrevrange(feedKey, '+', '-', 'COUNT', 1))[0]![0];
      expect(events).to.have.length(300);
      const names = seen.map((c) => c.args[0]!.toLowerCase());
      expect(names.filter((n) => n === 'xreadgroup' || n === 'xack'), 'reads and acknowledgements of the feed').to.deep.equal([]);
      expect(seen.some((c) => c.args[0]!.toLowerCase() === 'xgroup' && c.args[1]!.toLowerCase() === 'setid' && c.source === 'lua')).to.equal(true);
      expect(h.module.fanout.fannedOut).to.equal(0);
      expect(h.module.fanout.skips).to.be.greaterThan(0);
      const group = (await testRedis(h.gateway.config.redis.url).xinfo('GROUPS', feedKey)) as unknown[][];
      const info = group.find((g) => g[1] === CONSUMER_GROUP)!;
      expect(info[info.indexOf('last-delivered-id') + 1]).to.equal(lastCursor);
      expect(info[info.indexOf('pending') + 1]).to.equal(0);
    } finally {
      monitor.stop();
    }
  });

  it('endpoints registered while it skips a stream of observes get every change after their start', async () => {
    h = await startHarness();
    const receiver = await h.receiver();
    const writer = observeLoop(h);
    let start = h.module.fanout.skips;
    try {
      await waitFor(() => h!.module.fanout.skips > start + 2 && writer.cursors.length > 200, { what: 'skipping under observes' });
      const a = await h.register({ url: `${receiver.url}/a` });
      await waitFor(() => receiver.received.some((r) => r.path === '/a'), { what: 'a delivery to A' });
      // Deleted: the registry is empty again and the fan-out skips again.
      expect((await h.call('DELETE', `/v1/webhooks/${a.id}`)).status).to.equal(204);
      start = h.module.fanout.skips;
      await waitFor(() => h!.module.fanout.skips > start + 2, { what: 'skipping again' });
      const b = await h.register({ url: `${receiver.url}/b` });
      const bStart = (await h.call('GET', `/v1/webhooks/${b.id}`)).json.startCursor as string;
      await waitFor(() => writer.cursors.filter((c) => compareCursors(c, bStart) > 0).length > 200, { what: 'observes after B' });
    } finally {
      await writer.stop();
    }
    await waitFor(() => h!.module.idle(), { timeoutMs: 30_000, what: 'every delivery' });
    const hooks = ((await h.call('GET', '/v1/webhooks')).json as { items: { id: string; startCursor: string }[] }).items;
    expect(hooks).to.have.length(1);
    const bStart = hooks[0]!.startCursor;
    const expected = writer.cursors.filter((c) => compareCursors(c, bStart) > 0);
    const got = receiver.received.filter((r) => r.path === '/b').map((r) => cursorOf(r.body));
    expect(got.length).to.equal(expected.length);
    expect(got).to.have.members(expected);
    // A got nothing from before its start (its end is the deletion, whose moment is not exact).
    const aStart = writer.cursors[0]!;
    const gotA = receiver.received.filter((r) => r.path === '/a').map((r) => cursorOf(r.body));
    expect(gotA.length).to.be.greaterThan(0);
    for (const c of gotA) expect(compareCursors(c, aStart) > 0).to.equal(true);
  });

  it('skips while every endpoint is disabled; a re-enabled one gets every change after re-enabling', async () => {
    h = await startHarness();
    const url = h.gateway.config.redis.url;
    const feedKey = h.gateway.feed.keys.feed;
    const groupPosition = async () => {
      const groups = (await testRedis(url).xinfo('GROUPS', feedKey)) as unknown[][];
      const info = groups.find((g) => g[1] === CONSUMER_GROUP)!;
      return info[info.indexOf('last-delivered-id') + 1] as string;
    };
    const receiver = await h.receiver();
    const hook = await h.register({ url: receiver.url });
    expect((await h.call('PATCH', `/v1/webhooks/${hook.id}`, { enabled: false })).json.enabled).to.equal(false);
    // The fan-out learns of the PATCH from the registry version read with its next entries: a
    // read blocked when the PATCH landed still returns the first entries appended (and fans them
    // out to no one). One entry primes it; two skips counted after that mean its loop skips now.
    const disabledAt = h.module.fanout.skips;
    await h.append(1);
    await waitFor(() => h!.module.fanout.skips > disabledAt + 1, { what: 'the fan-out skipping since the endpoint was disabled' });
    const fannedOut = h.module.fanout.fannedOut;
    const start = h.module.fanout.skips;
    const whileDisabled = await h.append(50);
    const lastWhileDisabled = (await testRedis(url).xrevrange(feedKey, '+', '-', 'COUNT', 1))[0]![0];
    // Skipped, not read: the group moved past them and nothing was fanned out.
    await waitFor(async () => h!.module.fanout.skips > start && compareCursors(await groupPosition(), lastWhileDisabled) >= 0, {
      what: 'the group moved past the entries appended while the only endpoint was disabled',
    });
    expect(h.module.fanout.fannedOut).to.equal(fannedOut);
    expect((await h.call('PATCH', `/v1/webhooks/${hook.id}`, { enabled: true })).json.enabled).to.equal(true);
    const after = await h.append(20, 'srv-2');
    await waitFor(() => receiver.received.length >= after.length, { what: 'the deliveries after re-enabling' });
    await waitFor(() => h!.module.idle(), { what: 'idle' });
    const got = receiver.received.map((r) => r.headers['webhook-id']);
    // Exactly those: none of the entries appended while it was disabled.
    expect(got).to.have.members(after);
    expect(whileDisabled.some((id) => got.includes(id))).to.equal(false);
  });

  it('leaves a dead consumer’s pending entries to be claimed, then delivers to a new endpoint', async () => {
    h = await startHarness();
    const url = h.gateway.config.redis.url;
    const feedKey = h.gateway.feed.keys.feed;
    await waitFor(() => h!.module.fanout.skips > 0, { what: 'a first skip' });
    await h.module.fanout.stop();
    await h.append(5);
    const read = (await testRedis(url).xreadgroup('GROUP', CONSUMER_GROUP, 'crashed-replica', 'COUNT', 100, 'STREAMS', feedKey, '>')) as [string, unknown[]][];
    expect(read[0]![1]).to.have.length(5);
    await h.module.fanout.start();
    await waitFor(() => h!.module.idle(), { what: 'the dead consumer’s entries claimed and acknowledged' });
    expect(((await testRedis(url).xpending(feedKey, CONSUMER_GROUP)) as [number])[0]).to.equal(0);
    const receiver = await h.receiver();
    await h.register({ url: receiver.url });
    const after = await h.append(3, 'srv-2');
    await waitFor(() => receiver.received.length === 3, { what: 'deliveries after registration' });
    await waitFor(() => h!.module.idle(), { what: 'idle' });
    expect(receiver.received.map((r) => r.headers['webhook-id'])).to.have.members(after);
  });
});
