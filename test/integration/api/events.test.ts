import { expect } from 'chai';
import type { Gateway } from '../../../src/gateway.js';
import { bearer, testConfig, TOKENS } from '../../helpers/gateway.js';
import { instanceObs } from '../../helpers/observations.js';
import { testRedis, waitFor } from '../../helpers/redis.js';
import { send, startApiGateway } from './api-test-helpers.js';
import { openSse, type SseConnection } from './sse-client.js';

const client = bearer(TOKENS.client);
const ctx = { source: 'cached-poll' };

/** Appends `n` instance.created events (one per new instance) and returns their cursors. */
async function appendEvents(gateway: Gateway, from: number, n: number): Promise<string[]> {
  const results = await gateway.store.observeInstances(
    Array.from({ length: n }, (_, i) => instanceObs({ id: `srv-${String(from + i).padStart(5, '0')}` })),
    ctx,
  );
  return results.map((r) => r.cursor!);
}

async function allCursors(gateway: Gateway): Promise<string[]> {
  return (await testRedis(gateway.config.redis.url).xrange(gateway.feed.keys.feed, '-', '+')).map(([id]) => id);
}

describe('Conductor API: change feed', () => {
  let gateway: Gateway;
  let url: string;
  const open: SseConnection[] = [];

  afterEach(async () => {
    for (const c of open.splice(0)) c.drop();
    await gateway.stop();
  });

  describe('GET /v1/events', () => {
    beforeEach(async () => {
      ({ gateway, url } = await startApiGateway());
    });

    it('pages the feed by cursor: stored event JSON plus cursor, next, gap false', async () => {
      const cursors = await appendEvents(gateway, 0, 25);
      const first = await send(url, 'GET', '/v1/events?limit=10', client);
      expect(first.status, first.text).to.equal(200);
      expect(first.json.gap).to.equal(false);
      expect(first.json.events.map((e: { cursor: string }) => e.cursor)).to.deep.equal(cursors.slice(0, 10));
      expect(first.json.next).to.equal(cursors[9]);
      const stored = JSON.parse((await gateway.feed.read('0', 1)).entries[0]!.json);
      expect(first.json.events[0]).to.deep.equal({ ...stored, cursor: cursors[0] });
      expect(first.json.events[0]).to.include.keys('id', 'type', 'occurredAt', 'data');
      expect(first.json.events[0].type).to.equal('instance.created');

      const seen = [...first.json.events];
      let next = first.json.next as string;
      for (;;) {
        const page = await send(url, 'GET', `/v1/events?limit=10&after=${next}`, client);
        if (page.json.events.length === 0) {
          expect(page.json.next).to.equal(next);
          break;
        }
        seen.push(...page.json.events);
        next = page.json.next;
      }
      expect(seen.map((e) => e.cursor)).to.deep.equal(cursors);
    });

    it('rejects a malformed cursor naming query.after', async () => {
      for (const after of ['abc', '1-2-3', '-1', '12345678901234567890123-0']) {
        const res = await send(url, 'GET', `/v1/events?after=${after}`, client);
        expect(res.status, after).to.equal(400);
        expect(res.json.errors[0].path).to.equal('query.after');
      }
    });
  });

  describe('retention gap', () => {
    beforeEach(async () => {
      ({ gateway, url } = await startApiGateway({ config: await testConfig({ feed: { maxLength: 100 } }) }));
    });

    it('GET /v1/events answers 200 with gap: true and the oldest events kept', async () => {
      const cursors = await appendEvents(gateway, 0, 5);
      const old = cursors[0]!;
      for (let i = 5; i < 600; i += 100) await appendEvents(gateway, i, 100);
      const kept = await allCursors(gateway);
      expect(kept.length).to.be.lessThan(600);
      expect(kept[0]).to.not.equal(cursors[0]);
      const res = await send(url, 'GET', `/v1/events?after=${old}&limit=5`, client);
      expect(res.status).to.equal(200);
      expect(res.json.gap).to.equal(true);
      expect(res.json.events.map((e: { cursor: string }) => e.cursor)).to.deep.equal(kept.slice(0, 5));
      // Continuing from `next` has no gap.
      expect((await send(url, 'GET', `/v1/events?after=${res.json.next}`, client)).json.gap).to.equal(false);
    });

    it('the stream sends event: resync first, then every event kept', async () => {
      const [old] = await appendEvents(gateway, 0, 5);
      for (let i = 5; i < 600; i += 100) await appendEvents(gateway, i, 100);
      const kept = await allCursors(gateway);
      const sse = await openSse(url, '/v1/events/stream', { ...client, 'last-event-id': old! });
      open.push(sse);
      await waitFor(() => sse.messages.length >= kept.length + 1, { what: 'resync and every kept event' });
      const [resync, ...events] = sse.messages;
      expect(resync!.event).to.equal('resync');
      expect(resync!.id).to.equal(undefined);
      expect(JSON.parse(resync!.data)).to.include({ resyncRequired: true, after: old });
      expect(events.map((m) => m.id)).to.deep.equal(kept);
    });
  });

  describe('GET /v1/events/stream', () => {
    beforeEach(async () => {
      ({ gateway, url } = await startApiGateway({ api: { events: { heartbeatMs: 20, blockMs: 200 } } }));
    });

    it('streams id/event/data for new events only when no cursor is given', async () => {
      await appendEvents(gateway, 0, 3); // before connecting: not sent
      const sse = await openSse(url, '/v1/events/stream', client);
      open.push(sse);
      expect(sse.status).to.equal(200);
      expect(sse.headers['content-type']).to.match(/^text\/event-stream/);
      await waitFor(() => sse.comments.includes('connected'), { what: 'the connected comment' });
      const cursors = await appendEvents(gateway, 3, 4);
      await waitFor(() => sse.messages.length >= 4, { what: 'four events' });
      expect(sse.messages.map((m) => m.id)).to.deep.equal(cursors);
      expect(sse.messages.every((m) => m.event === 'instance.created')).to.equal(true);
      const data = JSON.parse(sse.messages[0]!.data);
      expect(data.cursor).to.equal(cursors[0]);
      expect(data.data.current.id).to.equal('srv-00003');
    });

    it('resumes after a dropped connection with Last-Event-ID: nothing lost, nothing repeated', async () => {
      await appendEvents(gateway, 0, 40);
      const first = await openSse(url, '/v1/events/stream?after=0', client);
      open.push(first);
      await waitFor(() => first.messages.length >= 15, { what: 'some events on the first connection' });
      first.drop();
      const received = first.messages.map((m) => m.id!);
      // Events keep coming while the client is away.
      await appendEvents(gateway, 40, 30);
      const second = await openSse(url, '/v1/events/stream?after=0', { ...client, 'last-event-id': received.at(-1)! });
      open.push(second);
      const expected = await allCursors(gateway);
      await waitFor(() => received.length + second.messages.length >= expected.length, { what: 'the rest of the feed' });
      await appendEvents(gateway, 70, 5);
      const all = await allCursors(gateway);
      await waitFor(() => received.length + second.messages.length >= all.length, { what: 'the live tail' });
      expect([...received, ...second.messages.map((m) => m.id!)]).to.deep.equal(all);
    });

    it('sends heartbeat comments at the configured interval', async () => {
      const sse = await openSse(url, '/v1/events/stream', client);
      open.push(sse);
      await waitFor(() => sse.comments.filter((c) => c === 'heartbeat').length >= 3, { what: 'three heartbeats' });
      expect(sse.messages).to.deep.equal([]);
    });

    it('closes the stream\'s Redis connection when the client disconnects', async () => {
      const before = gateway.stores.openConnections;
      const sse = await openSse(url, '/v1/events/stream', client);
      await waitFor(() => gateway.stores.openConnections === before + 1, { what: 'a dedicated connection' });
      sse.drop();
      await waitFor(() => gateway.stores.openConnections === before, { what: 'the connection to close' });
    });

    it('ends open streams and their connections on gateway stop', async () => {
      const sse = await openSse(url, '/v1/events/stream', client);
      await waitFor(() => gateway.stores.openConnections >= 2, { what: 'a dedicated connection' });
      await gateway.stop();
      await sse.ended;
      expect(gateway.stores.openConnections).to.equal(0);
    });

    it('rejects a malformed Last-Event-ID naming the header, and needs a client token', async () => {
      const res = await send(url, 'GET', '/v1/events/stream', { ...client, 'last-event-id': 'nope' });
      expect(res.status).to.equal(400);
      expect(res.json.errors[0].path).to.equal('headers.last-event-id');
      expect((await send(url, 'GET', '/v1/events/stream')).status).to.equal(401);
      expect((await send(url, 'GET', '/v1/events/stream', bearer(TOKENS.backend))).status).to.equal(403);
    });
  });
});
