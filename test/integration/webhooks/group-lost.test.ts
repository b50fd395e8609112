/**
 * The fan-out's consumer group lost while the gateway runs — deleted, or gone with all of
 * Redis's data (restarted without persistence) — is created again at the feed's start:
 * deliveries resume, nothing appended since is missed, nothing delivered is sent twice.
 */
import { expect } from 'chai';
import { CONSUMER_GROUP } from '../../../src/webhooks/feed-fanout.js';
import { deletePrefix, testRedis, waitFor } from '../../helpers/redis.js';
import { startHarness, type Harness } from './webhook-harness.js';

describe('webhook fan-out when its consumer group is lost', function () {
  this.timeout(60_000);
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  const ids = (h: Harness, path: string) => h.receivers.flatMap((r) => r.received.filter((x) => x.path === path).map((x) => x.headers['webhook-id']));

  it('deleted: recreated, the events after it delivered, the ones before not sent again', async () => {
    h = await startHarness();
    const receiver = await h.receiver();
    await h.register({ url: `${receiver.url}/a` });
    const before = await h.append(3, 'srv-1');
    await waitFor(() => ids(h!, '/a').length === 3, { what: 'the first deliveries' });
    await waitFor(() => h!.module.idle(), { what: 'the first entries acknowledged' });

    const redis = testRedis(h.gateway.config.redis.url);
    expect(await redis.xgroup('DESTROY', h.gateway.feed.keys.feed, CONSUMER_GROUP)).to.equal(1);
    const after = await h.append(4, 'srv-2');

    await waitFor(() => ids(h!, '/a').length >= 7, { timeoutMs: 15_000, what: 'the deliveries after the group was deleted' });
    await waitFor(() => h!.module.idle(), { timeoutMs: 15_000, what: 'idle again' });
    const got = ids(h, '/a');
    expect(got).to.have.length(7);
    expect(got).to.have.members([...before, ...after]);
  });

  it("gone with Redis's data: an endpoint registered again gets what is appended next", async () => {
    h = await startHarness();
    const receiver = await h.receiver();
    await h.register({ url: `${receiver.url}/a` });
    await h.append(2, 'srv-1');
    await waitFor(() => ids(h!, '/a').length === 2, { what: 'the first deliveries' });

    // Every key of this gateway gone, as after a restart without persistence.
    await deletePrefix(testRedis(h.gateway.config.redis.url), h.gateway.config.redis.keyPrefix);
    await h.register({ url: `${receiver.url}/b` });
    const after = await h.append(3, 'srv-3');

    await waitFor(() => ids(h!, '/b').length >= 3, { timeoutMs: 15_000, what: 'deliveries to the endpoint registered after the loss' });
    expect(ids(h, '/b')).to.have.members(after);
  });
});
