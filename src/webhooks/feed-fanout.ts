/**
 * Fan-out: a consumer group (`webhooks`) on the feed stream turns each event into one
 * delivery per matching endpoint. An entry is acknowledged only after its deliveries
 * are recorded and their jobs enqueued (deterministic job ids make a repeat harmless); the
 * pending entries of a consumer that died are claimed back (the feed's consumer group).
 *
 * One replica at a time fans out (a leader lease in Redis): fan-out is a few Redis commands
 * per event, and a single reader keeps one instance's events in feed order on their way into
 * the per-subject queues of ordered endpoints. Another replica takes over when the lease
 * lapses and first claims what the old leader left pending.
 *
 * The group is created at `$` the first time: events appended before the webhook module
 * ever ran are not delivered, and an endpoint only receives events appended after it was
 * created (its `startCursor`); older ones only through replay.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import type { FeedEntry } from '../store/change-feed.js';
import type { FeedConsumerGroup } from '../store/feed-consumer-group.js';
import type { LeaseStore } from '../store/lease-store.js';
import type { DeliveryStore } from '../store/delivery-store.js';
import type { DeliveryQueue } from './delivery-queue.js';
import type { WebhookRegistry } from '../store/webhook-registry.js';
import type { StoredWebhook } from './webhook-schemas.js';
import { isAfterStart, payloadOf, toNewDelivery, wants } from './webhook-payload.js';


export const CONSUMER_GROUP = 'webhooks';

export interface FeedFanoutOptions {
  /** The feed's consumer group `webhooks`. */
  group: FeedConsumerGroup;
  /** Where the leader lease is held. */
  leases: LeaseStore;
  registry: WebhookRegistry;
  deliveries: DeliveryStore;
  queue: DeliveryQueue;
  logger: Logger;
  now: () => number;
  /** Pending entries idle this long are claimed from their (dead) consumer. @defaultValue 1000 */
  claimIdleMs?: number;
  /**
   * Leader lease, renewed every half lease. A killed leader's lease lapses within this, and
   * followers check every quarter lease: fan-out resumes within about 1.25 × lease. A leader
   * stalled longer than half a lease may lose the lease; that only repeats work (deliveries
   * are deduplicated), never loses it. @defaultValue 1000
   */
  leaseMs?: number;
  /** Entries per read. @defaultValue 200 */
  batch?: number;
}

export class FeedFanout {
  readonly consumer = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private running = false;
  private loop: Promise<void> | undefined;
  private cache: { version: string; endpoints: StoredWebhook[] } | undefined;
  private readonly log: Logger;
  private readonly claimIdleMs: number;
  private readonly leaseMs: number;
  private readonly batch: number;
  private wake: (() => void) | undefined;
  private lastClaimAt = 0;
  /** Events fanned out by this process (for status and tests). */
  fannedOut = 0;

  constructor(private readonly o: FeedFanoutOptions) {
    this.log = o.logger.child({ component: 'webhook-fanout', consumer: this.consumer });
    this.claimIdleMs = o.claimIdleMs ?? 1_000;
    this.leaseMs = o.leaseMs ?? 1_000;
    this.batch = o.batch ?? 200;
  }

  async start(): Promise<void> {
    await this.o.group.ensure();
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    // Abort a blocking read at once; what was read but not processed stays pending and is
    // claimed by the next leader.
    this.o.group.interrupt();
    await this.loop;
    await this.o.leases.release(this.o.registry.keys.leader, this.consumer).catch(() => undefined);
  }

  private async run(): Promise<void> {
    let leaderUntil = 0;
    while (this.running) {
      try {
        const now = Date.now();
        if (now > leaderUntil - this.leaseMs / 2) {
          const held = await this.o.leases.acquire(this.o.registry.keys.leader, this.consumer, this.leaseMs);
          if (!held) {
            leaderUntil = 0;
            await this.pause(Math.min(this.leaseMs / 4, 1_000));
            continue;
          }
          const takingOver = leaderUntil === 0;
          leaderUntil = now + this.leaseMs;
          if (takingOver) {
            this.log.info('fan-out leader');
            // Only the leader reads, so whatever another consumer still holds was abandoned
            // (a dying leader's blocked read may even have received entries after its death):
            // claim it all now instead of after claimIdleMs. A leader that only stalled may
            // still be fanning those out; repeats are deduplicated.
            this.lastClaimAt = Date.now();
            await this.claimAbandoned(0);
          }
        }
        if (Date.now() - this.lastClaimAt > Math.min(this.claimIdleMs, 5_000)) {
          this.lastClaimAt = Date.now();
          await this.claimAbandoned();
        }
        const entries = await this.o.group.read(this.consumer, { count: this.batch, blockMs: Math.max(10, Math.min(1_000, Math.floor(this.leaseMs / 4))) });
        if (entries.length > 0) await this.process(entries);
      } catch (err) {
        if (!this.running) break;
        this.log.warn('fan-out failed; retrying', { error: (err as Error).message });
        await this.pause(500);
      }
    }
  }

  /** Claims entries left pending by consumers that stopped (crashed) and fans them out. */
  private async claimAbandoned(minIdleMs = this.claimIdleMs): Promise<void> {
    await this.o.group.claimAbandoned(
      this.consumer,
      { idleMs: minIdleMs, count: this.batch },
      async (entries) => {
        this.log.info('claimed abandoned feed entries', { count: entries.length });
        await this.process(entries);
      },
      () => this.running,
    );
  }

  private async endpoints(): Promise<StoredWebhook[]> {
    const version = await this.o.registry.version();
    if (this.cache?.version !== version) this.cache = { version, endpoints: await this.o.registry.all() };
    return this.cache.endpoints;
  }

  /** Records and enqueues the deliveries of `entries` (in feed order), then acknowledges them. */
  async process(entries: FeedEntry[]): Promise<void> {
    const endpoints = (await this.endpoints()).filter((w) => w.enabled);
    const perEndpoint = new Map<StoredWebhook, ReturnType<typeof toNewDelivery>[]>();
    for (const entry of entries) {
      let payload;
      try {
        payload = payloadOf(entry);
      } catch (err) {
        this.log.error('unreadable feed entry; skipped', { cursor: entry.cursor, error: (err as Error).message });
        continue;
      }
      for (const webhook of endpoints) {
        if (!isAfterStart(webhook, payload) || !wants(webhook, payload)) continue;
        let list = perEndpoint.get(webhook);
        if (!list) perEndpoint.set(webhook, (list = []));
        list.push(toNewDelivery(webhook, payload));
      }
    }
    const now = this.o.now();
    await Promise.all(
      [...perEndpoint].map(async ([webhook, items]) => {
        const results = await this.o.deliveries.ensure(webhook.id, items, 'new', now);
        await this.o.queue.add(
          items.flatMap((d, i) =>
            results[i]!.code === 'created' || results[i]!.code === 'pending'
              ? [{ ep: webhook.id, ev: d.eventId, run: results[i]!.run, sub: d.subject, first: true }]
              : [],
          ),
        );
      }),
    );
    await this.o.group.ack(entries.map((e) => e.cursor));
    this.fannedOut += entries.length;
  }

  /** True when every feed entry so far was fanned out and acknowledged. */
  async caughtUp(): Promise<boolean> {
    const lag = await this.o.group.lag();
    return lag.pending === 0 && lag.readToEnd;
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

