/**
 * The fan-out sends a fresh entry's deliveries to unordered endpoints before anything is
 * written, and records them with their answers (attemptNew); everything else is sent only
 * after its record. Redis is replaced by an ensure that waits on the test, which is the only
 * way to see the order of the two.
 */
import { expect } from 'chai';
import type { DeliveryStore, NewDelivery } from '../../../src/store/delivery-store.js';
import type { FeedConsumerGroup } from '../../../src/store/feed-consumer-group.js';
import type { LeaseStore } from '../../../src/store/lease-store.js';
import type { WebhookRegistry } from '../../../src/store/webhook-registry.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { DeliveryQueue } from '../../../src/webhooks/delivery-queue.js';
import type { DirectDelivery } from '../../../src/webhooks/direct-delivery.js';
import { FeedFanout } from '../../../src/webhooks/feed-fanout.js';
import { CLAIMED, endpoint, feedEntry } from './fanout-fakes.js';

const entry = feedEntry(1);

describe('fan-out: early sends', () => {
  let log: string[];
  let recorded: () => void;
  let fanout: FeedFanout;

  beforeEach(() => {
    log = [];
    const deliveries = {
      ensureAll: async (groups: { endpointId: string; items: NewDelivery[]; claim?: { owners: readonly (string | null)[] } }[]) => {
        const owners = groups.map((g) => g.items.map((_, i) => g.claim?.owners[i] ?? null));
        log.push(`ensure ${groups.filter((g) => g.items.length > 0).map((g) => g.endpointId).join(',')}`);
        await new Promise<void>((resolve) => (recorded = resolve));
        log.push('recorded');
        return owners.map((list) => list.map((owner) => ({ code: 'created' as const, run: 0, ...(owner ? { claim: CLAIMED } : {}) })));
      },
    };
    const direct: DirectDelivery = {
      attempt: async (spec) => {
        log.push(`attempt ${spec.endpointId}`);
        return { kind: 'settled' };
      },
      // Sends at once (DeliveryWorker.attemptNew writes the request before its first await).
      attemptNew: (spec, webhook, delivery, createdAtMs) => {
        expect([webhook.id, delivery.eventId, createdAtMs]).to.deep.equal([spec.endpointId, spec.eventId, Date.parse('2026-11-30T00:00:01Z')]);
        log.push(`early ${webhook.id}`);
        return new Promise(() => undefined);
      },
      leaseMs: () => 2_000,
      eligible: (webhook) => !webhook.maxPerSecond,
      concurrency: () => 10,
    };
    const endpoints = [endpoint('plain'), endpoint('ordered', { ordered: true }), endpoint('paced', { maxPerSecond: 5 })];
    fanout = new FeedFanout({
      group: { ack: async () => undefined } as unknown as FeedConsumerGroup,
      leases: {} as LeaseStore,
      registry: { all: async () => endpoints, version: async () => '1', keys: {} } as unknown as WebhookRegistry,
      deliveries: deliveries as unknown as DeliveryStore,
      queue: { add: async () => undefined } as unknown as DeliveryQueue,
      logger: silentLogger(),
      now: () => Date.parse('2026-11-30T00:00:01Z'),
      direct,
    });
  });

  async function run(fresh: boolean): Promise<void> {
    const done = fanout.process([entry], '1', { fresh });
    // Let the fan-out reach the ensure (after the next tick, when the early requests are
    // written), then see what left before it is answered.
    for (let i = 0; i < 10 && !log.some((l) => l.startsWith('ensure')); i++) await new Promise(setImmediate);
    expect(log.some((l) => l.startsWith('ensure'))).to.equal(true);
    recorded();
    await done;
  }

  it('sends a fresh entry to an unordered endpoint before recording anything, and records it with its answer', async () => {
    await run(true);
    expect(log.indexOf('early plain')).to.be.below(log.indexOf('recorded'));
    // Not in the ensure: the attempt records the delivery.
    expect(log).to.include('ensure ordered,paced');
  });

  it('sends to an ordered endpoint only once claimed, a paced one through the queue', async () => {
    await run(true);
    const sends = log.filter((l) => !l.startsWith('ensure'));
    expect(sends.filter((l) => l.includes('ordered'))).to.deep.equal(['attempt ordered']);
    expect(sends.filter((l) => l.includes('paced'))).to.deep.equal([]);
  });

  it('sends an entry read again (claimed from a dead consumer) only after its record says to', async () => {
    await run(false);
    expect(log.filter((l) => l.startsWith('early'))).to.deep.equal([]);
    expect(log).to.include('ensure plain,ordered,paced');
    expect(log).to.include('attempt plain');
  });
});
