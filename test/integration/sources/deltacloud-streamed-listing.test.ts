/**
 * A Deltacloud list is written to the store chunk by chunk while it streams (memory holds one
 * chunk, not the account), and only a list read to its end proves anything missing: a list
 * that fails part-way leaves what it saw written and marks nothing vanished.
 *
 * The backend is a real HTTP server whose body the test releases in parts; the instance
 * elements follow Deltacloud's documented list (test/fixtures/deltacloud/instances.xml).
 */
import { expect } from 'chai';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeltacloudClient } from '../../../src/backends/deltacloud-client.js';
import { deltacloudBackendSchema } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/log/logger.js';
import { Metrics } from '../../../src/metrics/metrics.js';
import { DeltacloudSource, LISTING_CHUNK } from '../../../src/sources/deltacloud-source.js';
import { SourceSync } from '../../../src/sources/source-sync.js';
import { StateStore } from '../../../src/store/state-store.js';
import { useRedis, waitFor } from '../../helpers/redis.js';
import { FEED_LIMITS } from '../../helpers/store.js';

function instanceXml(id: string): string {
  return (
    `<instance href='http://dc.example.com/api/instances/${id}' id='${id}'><name>${id}</name><owner_id>o</owner_id>` +
    `<image id='ami-1'></image><realm id='us'></realm><state>RUNNING</state><launch_time>2026-11-30T06:00:00.000Z</launch_time>` +
    `<public_addresses></public_addresses><private_addresses><address>10.0.0.1</address></private_addresses></instance>`
  );
}

const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `i-${String(from + i).padStart(6, '0')}`);

/** One list answer: `head` at once, then the rest once `release` is called (or a cut-off). */
interface Answer {
  head: string[];
  tail: string[];
  /** End the body here without `</instances>` (a truncated list). */
  truncate?: boolean;
}

describe('Deltacloud listing streamed into the store (real Redis, real HTTP)', function () {
  this.timeout(60_000);
  const ctx = useRedis();
  let server: Server;
  let url: string;
  let answer: Answer;
  let release: () => void = () => undefined;
  let headSent: Promise<void>;
  let headWasSent: () => void = () => undefined;

  before(async () => {
    server = createServer((req, res: ServerResponse) => {
      if (!req.url?.endsWith('/instances')) return void res.writeHead(404).end();
      const { head, tail, truncate } = answer;
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.write(`<?xml version='1.0' encoding='utf-8' ?>\n<instances>${head.map(instanceXml).join('')}`);
      headWasSent();
      release = () => {
        res.write(tail.map(instanceXml).join(''));
        if (truncate) res.end(`<instance id='cut'><name>cu`);
        else res.end('</instances>');
      };
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  function setUp() {
    const store = new StateStore(ctx.redis, ctx.prefix, FEED_LIMITS);
    const config = deltacloudBackendSchema.parse({ id: 'dc-1', kind: 'deltacloud', url, username: 'u', password: 'p', timeoutMs: 30_000, retries: 0 });
    const client = new DeltacloudClient(config, { logger: silentLogger() });
    const source = new DeltacloudSource(client, store);
    const sync = new SourceSync({ store, metrics: new Metrics(), logger: silentLogger(), now: Date.now }, 'deltacloud-poll');
    return { store, source, sync };
  }

  function list(sync: SourceSync, source: DeltacloudSource, next: Answer) {
    answer = next;
    headSent = new Promise<void>((r) => (headWasSent = r));
    const run = sync.syncScope(source, { all: true });
    run.catch(() => undefined);
    return { run, headSent };
  }

  const stored = async (store: StateStore, which: string[]) => (await store.getInstances(which)).filter((d) => d !== null);

  it('writes chunks while the list is still arriving, and the complete list settles misses', async () => {
    const { store, source, sync } = setUp();
    const head = ids(0, 2 * LISTING_CHUNK + 500);
    const tail = ids(2 * LISTING_CHUNK + 500, 3 * LISTING_CHUNK + 200);
    const first = list(sync, source, { head, tail });
    await first.headSent;
    // The body is not finished, yet two full chunks are in the store already.
    await waitFor(async () => (await stored(store, head)).length >= 2 * LISTING_CHUNK, { timeoutMs: 20_000, what: 'two chunks written mid-stream' });
    expect(await stored(store, tail)).to.have.length(0);
    release();
    await first.run;
    expect(await stored(store, [...head, ...tail])).to.have.length(head.length + tail.length);

    // Two complete lists without the tail: its instances vanish (one miss is not enough).
    const second = list(sync, source, { head, tail: [] });
    await second.headSent;
    release();
    await second.run;
    expect((await stored(store, tail)).every((d) => d.state !== 'vanished')).to.equal(true);
    const third = list(sync, source, { head, tail: [] });
    await third.headSent;
    release();
    await third.run;
    expect((await stored(store, tail)).map((d) => d.state)).to.deep.equal(tail.map(() => 'vanished'));
    expect((await stored(store, head)).every((d) => d.state === 'running')).to.equal(true);
  });

  it('a list that fails part-way keeps what it saw and marks nothing missing', async () => {
    const { store, source, sync } = setUp();
    const all = ids(0, 2 * LISTING_CHUNK);
    const full = list(sync, source, { head: all, tail: [] });
    await full.headSent;
    release();
    await full.run;

    // Twice in a row, a list cut off after its first half: were a failed list taken as
    // complete, the unseen half would have missed two listings and vanished.
    const head = all.slice(0, LISTING_CHUNK + 300);
    for (let round = 0; round < 2; round++) {
      const cut = list(sync, source, { head, tail: [], truncate: true });
      await cut.headSent;
      release();
      let failure: Error | undefined;
      await cut.run.catch((err: Error) => (failure = err));
      expect(failure?.message).to.match(/malformed XML|ended before/);
    }
    const docs = await stored(store, all);
    expect(docs).to.have.length(all.length);
    expect(docs.every((d) => d.state === 'running')).to.equal(true);
    // Nothing counted a miss either: the next complete list starts from zero.
    const misses = await Promise.all(all.map((id) => ctx.redis.hget(`${ctx.prefix}i:${id}`, 'm')));
    expect(misses.filter((m) => m !== null && m !== '0')).to.have.length(0);
  });
});
