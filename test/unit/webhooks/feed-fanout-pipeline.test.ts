/**
 * The fan-out reads the next batch while the last one's records are being written, so the
 * rest of a burst of events is not held back by one Redis round trip; the records are still
 * handled batch after batch, and the direct slots a batch takes count before its attempts
 * start. The consumer group and the delivery store are fakes that wait on the test. The
 * endpoint is ordered (recorded, then sent) unless a test says otherwise: a new delivery to
 * an unordered one is sent at once and recorded with its answer (feed-fanout-early.test.ts).
 */
import { expect } from 'chai';
import type { FeedEntry } from '../../../src/store/change-feed.js';
import type { DeliveryStore, NewDelivery } from '../../../src/store/delivery-store.js';
import type { FeedConsumerGroup } from '../../../src/store/feed-consumer-group.js';
import type { LeaseStore } from '../../../src/store/lease-store.js';
import type { WebhookRegistry } from '../../../src/store/webhook-registry.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { DeliveryJobSpec, DeliveryQueue } from '../../../src/webhooks/delivery-queue.js';
import type { DirectDelivery } from '../../../src/webhooks/direct-delivery.js';
import { FeedFanout } from '../../../src/webhooks/feed-fanout.js';
import { CLAIMED, endpoint, feedEntry } from './fanout-fakes.js';

/** Resolves once `condition` holds, or fails after `turns` turns of the event loop. */
async function until(condition: () => boolean, what: string, turns = 200): Promise<void> {
  for (let i = 0; i < turns && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  if (!condition()) throw new Error(`never happened: ${what}`);
}

describe('fan-out: the next batch is read while one is recorded', () => {
  let log: string[];
  /** Batches waiting for the read, in order. */
  let batches: FeedEntry[][];
  let wakeRead: (() => void) | undefined;
  const append = (...entries: FeedEntry[]) => {
    batches.push(entries);
    wakeRead?.();
  };
  /** Answers the store's record of the batch holding event `evt_n`. */
  let record: Map<string, () => void>;
  /** Settles the direct attempt of `evt_n`. */
  let settle: Map<string, () => void>;
  let inFlight: number;
  let mostInFlight: number;
  let fanout: FeedFanout;

  function start(concurrency: number, ordered = true): void {
    log = [];
    batches = [];
    record = new Map();
    settle = new Map();
    inFlight = 0;
    mostInFlight = 0;
    let interrupted = false;
    const group = {
      resume: () => undefined,
      ensure: async () => undefined,
      interrupt: () => {
        interrupted = true;
        wakeRead?.();
      },
      claimAbandoned: async () => undefined,
      skipWhileNoneEnabled: async () => null,
      recreateIfGone: async () => false,
      ack: async (cursors: string[]) => void log.push(`ack ${cursors.join(',')}`),
      read: async () => {
        while (batches.length === 0 && !interrupted) await new Promise<void>((resolve) => (wakeRead = resolve));
        const entries = batches.shift() ?? [];
        log.push(`read ${entries.map((e) => e.cursor.split('-')[1]).join(',')}`);
        return { entries, alongside: '1', fresh: true };
      },
    };
    const deliveries = {
      ensureAll: async (groups: { items: NewDelivery[]; claim?: { owners: readonly (string | null)[] } }[]) => {
        const events = groups.flatMap((g) => g.items.map((d) => d.eventId)).join(',');
        // As the store: nothing to record, no call.
        if (events === '') return groups.map(() => []);
        log.push(`record ${events}`);
        await new Promise<void>((resolve) => record.set(events, resolve));
        log.push(`recorded ${events}`);
        return groups.map((g) => g.items.map((_, i) => ({ code: 'created' as const, run: 0, ...(g.claim?.owners[i] ? { claim: CLAIMED } : {}) })));
      },
    };
    /** An attempt in flight until the test settles it; `verb` names it in the log ('send': sent before it was recorded). */
    const attemptLogged = (verb: string) => async (spec: DeliveryJobSpec) => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      log.push(`${verb} ${spec.eventId}`);
      await new Promise<void>((resolve) => settle.set(spec.eventId, resolve));
      inFlight--;
      return { kind: 'settled' } as const;
    };
    const direct: DirectDelivery = {
      attempt: attemptLogged('attempt'),
      attemptNew: attemptLogged('send'),
      leaseMs: () => 2_000,
      eligible: () => true,
      concurrency: () => concurrency,
    };
    fanout = new FeedFanout({
      group: group as unknown as FeedConsumerGroup,
      leases: { acquire: async () => true, release: async () => undefined } as unknown as LeaseStore,
      registry: { all: async () => [endpoint('plain', { ordered })], version: async () => '1', keys: { index: 'wh:idx', healthAroundId: { before: 'wh:e:', after: ':h' } } } as unknown as WebhookRegistry,
      deliveries: deliveries as unknown as DeliveryStore,
      queue: { add: async () => undefined } as unknown as DeliveryQueue,
      logger: silentLogger(),
      now: () => Date.parse('2026-11-30T00:00:01Z'),
      direct,
    });
  }

  afterEach(async () => {
    for (const answer of [...record.values(), ...settle.values()]) answer();
    const stopped = fanout.stop();
    // Whatever is still recorded or attempted while stopping is answered too.
    for (let i = 0; i < 50; i++) {
      for (const answer of [...record.values(), ...settle.values()]) answer();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await stopped;
  });

  it('reads and records the next batch before the batch before is recorded', async () => {
    start(10);
    await fanout.start();
    append(feedEntry(1));
    await until(() => log.includes('record evt_1'), 'batch 1 recorded');
    append(feedEntry(2), feedEntry(3));
    await until(() => log.includes('record evt_2,evt_3'), "batch 2's deliveries recorded while batch 1 is");
    expect(log).not.to.include('recorded evt_1');
  });

  it('handles the records batch after batch, whichever answer comes first', async () => {
    start(10);
    await fanout.start();
    append(feedEntry(1));
    await until(() => log.includes('record evt_1'), 'batch 1 recorded');
    append(feedEntry(2));
    await until(() => log.includes('record evt_2'), 'batch 2 recorded');
    record.get('evt_2')!();
    await until(() => log.includes('recorded evt_2'), 'batch 2 answered');
    // Batch 2's attempt waits for batch 1's records, and its acknowledgement for its attempt.
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(log).not.to.include('attempt evt_2');
    record.get('evt_1')!();
    await until(() => log.includes('attempt evt_2'), "batch 2's attempt");
    expect(log.indexOf('attempt evt_1')).to.be.below(log.indexOf('attempt evt_2'));
    settle.get('evt_2')!();
    settle.get('evt_1')!();
    await until(() => log.includes('ack 1764460800000-2'), 'batch 2 acknowledged');
    // At most two batches in flight: no third read before batch 1 was handled.
    expect(log.filter((l) => l.startsWith('read')).length).to.be.at.most(3);
  });

  it('counts the slots of a batch being recorded: never more attempts in flight than the concurrency', async () => {
    start(2);
    await fanout.start();
    append(feedEntry(1), feedEntry(2));
    await until(() => log.includes('record evt_1,evt_2'), 'batch 1 recorded');
    append(feedEntry(3));
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    // Both slots are batch 1's: batch 2 is not read yet.
    expect(log).not.to.include('read 3');
    record.get('evt_1,evt_2')!();
    await until(() => log.includes('attempt evt_2'), "batch 1's attempts");
    settle.get('evt_1')!();
    await until(() => log.includes('record evt_3'), 'batch 2 read once a slot is free');
    record.get('evt_3')!();
    await until(() => log.includes('attempt evt_3'), "batch 2's attempt");
    expect(mostInFlight).to.equal(2);
  });

  it('a delivery sent before it is recorded holds its slot until its attempt settles', async () => {
    start(2, false);
    await fanout.start();
    append(feedEntry(1), feedEntry(2));
    await until(() => log.includes('send evt_2'), "batch 1's attempts");
    append(feedEntry(3));
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    // Nothing was recorded, and both slots are batch 1's: batch 2 is not read yet.
    expect(log.filter((l) => l.startsWith('record'))).to.deep.equal([]);
    expect(log).not.to.include('read 3');
    settle.get('evt_1')!();
    await until(() => log.includes('send evt_3'), 'batch 2 sent once a slot is free');
    // Batch 1's entries are acknowledged once both of its attempts are.
    expect(log.filter((l) => l.startsWith('ack'))).to.deep.equal([]);
    settle.get('evt_2')!();
    await until(() => log.includes('ack 1764460800000-1,1764460800000-2'), "batch 1's acknowledgement");
    expect(mostInFlight).to.equal(2);
  });
});
