/**
 * Fan-out: a consumer group (`webhooks`) on the feed stream turns each event into one
 * delivery per matching endpoint. An entry is acknowledged only after its deliveries
 * are recorded and their jobs enqueued (deterministic job ids make a repeat harmless); the
 * pending entries of a consumer that died are claimed back (the feed's consumer group).
 *
 * With `direct` (the module's default) the fan-out also delivers on the happy path (see
 * DirectDelivery in direct-delivery.ts): the entry is acknowledged after the attempt, so no
 * BullMQ job is made for a delivery that succeeds at once.
 *
 * One replica at a time fans out (a leader lease in Redis): fan-out is a few Redis commands
 * per event, and a single reader keeps one instance's events in feed order on their way into
 * the per-subject queues of ordered endpoints. Another replica takes over when the lease
 * lapses and first claims what the old leader left pending.
 *
 * The group is created at `$` the first time (earlier events are never delivered; an endpoint
 * gets the events after its `startCursor`, older ones by replay), is moved past the feed's end
 * unread while no endpoint is enabled (skipWhileNoneEnabled), and is created again if Redis loses it.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import type { FeedEntry } from '../store/change-feed.js';
import type { FeedConsumerGroup } from '../store/feed-consumer-group.js';
import type { LeaseStore } from '../store/lease-store.js';
import type { DeliveryStore, NewDelivery } from '../store/delivery-store.js';
import { DeliveryQueue, type DeliveryJobSpec } from './delivery-queue.js';
import type { WebhookRegistry } from '../store/webhook-registry.js';
import type { StoredWebhook } from './webhook-schemas.js';
import type { AttemptNext, DirectDelivery } from './direct-delivery.js';
import { DirectSlots } from './direct-slots.js';
import { deliveriesOf } from './webhook-payload.js';

export const CONSUMER_GROUP = 'webhooks';
/** Longest the fan-out waits for a free direct slot before queueing the overflow. */
const DIRECT_WAIT_MS = 250;
/** Pause after skipping the feed (no endpoint enabled): an endpoint created or re-enabled meanwhile waits at most this much longer. */
const SKIP_PAUSE_MS = 20;

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
  /** Delivers from the fan-out on the happy path (see {@link DirectDelivery}); absent: every delivery is a job. */
  direct?: DirectDelivery;
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
  /** Times this process moved the group past the feed's end while no endpoint existed (for tests). */
  skips = 0;
  /** Direct attempts in flight. */
  private readonly slots = new DirectSlots();
  /** The batch being recorded while the next one is read (see {@link run}). */
  private inflight: Promise<void> | undefined;

  constructor(private readonly options: FeedFanoutOptions) {
    this.log = options.logger.child({ component: 'webhook-fanout', consumer: this.consumer });
    this.claimIdleMs = options.claimIdleMs ?? 1_000;
    this.leaseMs = options.leaseMs ?? 1_000;
    this.batch = options.batch ?? 200;
  }

  async start(): Promise<void> {
    // A fan-out stopped and started again reads again (stop() interrupted the group's reads).
    this.options.group.resume();
    await this.options.group.ensure();
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    // Abort a blocking read at once; what was read but not processed stays pending for the next leader.
    this.options.group.interrupt();
    await this.loop;
    await this.settle().catch(() => undefined);
    // Direct attempts under way finish (bounded by the request timeout) and acknowledge.
    await this.slots.drain();
    await this.options.leases.release(this.options.registry.keys.leader, this.consumer).catch(() => undefined);
  }

  private async run(): Promise<void> {
    let leaderUntil = 0;
    while (this.running) {
      try {
        const now = Date.now();
        if (now > leaderUntil - this.leaseMs / 2) {
          const held = await this.options.leases.acquire(this.options.registry.keys.leader, this.consumer, this.leaseMs);
          if (!held) {
            leaderUntil = 0;
            await this.settle();
            await this.pause(Math.min(this.leaseMs / 4, 1_000));
            continue;
          }
          const takingOver = leaderUntil === 0;
          leaderUntil = now + this.leaseMs;
          if (takingOver) {
            this.log.info('fan-out leader');
            // Only the leader reads, so what another consumer holds was abandoned (a dying leader's
            // blocked read may even get entries after its death): claim it all now, not after
            // claimIdleMs. A leader that only stalled may still be fanning those out: deduplicated.
            this.lastClaimAt = Date.now();
            await this.claimAbandoned(0);
          }
        }
        if (Date.now() - this.lastClaimAt > Math.min(this.claimIdleMs, 5_000)) {
          this.lastClaimAt = Date.now();
          await this.settle();
          await this.claimAbandoned();
        }
        const blockMs = Math.max(10, Math.min(1_000, Math.floor(this.leaseMs / 4)));
        if (await this.skipWhileNoneEnabled(blockMs)) continue;
        const count = await this.room();
        // stop() may have come while room() waited: a read would reopen its connection.
        if (!this.running) break;
        // The registry version comes with the entries (same round trip, read after them).
        const { entries, alongside, fresh } = await this.options.group.read(this.consumer, { count, blockMs, alongside: this.options.registry.keys.version });
        // A batch's deliveries go out (fresh ones) and its records are written while the next
        // batch is read: the rest of a burst is not held back by this one's round trip. Two
        // batches at most are in flight; the second finishes after the first (`after`).
        const previous = this.inflight;
        this.inflight = entries.length > 0 ? this.process(entries, alongside ?? '0', { fresh, after: previous }) : undefined;
        this.inflight?.catch(() => undefined); // awaited below or by settle()
        await previous;
      } catch (err) {
        await this.settle().catch(() => undefined);
        if (!this.running) break;
        if (await this.options.group.recreateIfGone(err).catch(() => false)) {
          this.log.warn("the feed's consumer group was gone (Redis lost its data, or it was deleted); created again at the feed's start");
          this.cache = undefined; // the registry's version counter may have started over too
          continue;
        }
        this.log.warn('fan-out failed; retrying', { error: (err as Error).message });
        await this.pause(500);
      }
    }
  }

  /**
   * No endpoint enabled (as last seen): moves the group past the feed's end without reading
   * it, if none is enabled still (one script, atomic with endpoint creation and re-enabling:
   * see SKIP_LUA), then waits for the next entry (a one-entry XREAD) after a short pause, so a
   * busy feed costs a skip every `SKIP_PAUSE_MS`, not a read per entry. True when skipped.
   */
  private async skipWhileNoneEnabled(blockMs: number): Promise<boolean> {
    if (this.cache && this.cache.endpoints.some((w) => w.enabled)) return false;
    await this.settle();
    const keys = this.options.registry.keys;
    const at = await this.options.group.skipWhileNoneEnabled(keys.index, keys.healthAroundId);
    if (at === null) return false;
    this.skips++;
    await this.pause(SKIP_PAUSE_MS);
    if (this.running) await this.options.group.waitAfter(at, blockMs);
    return true;
  }

  /**
   * How many entries to read next. With direct delivery, the feed itself is the backlog:
   * while every direct slot is taken the fan-out waits for one (at most `DIRECT_WAIT_MS`, so
   * a slow receiver cannot hold the others back longer; past it, the overflow is queued).
   */
  private async room(): Promise<number> {
    const direct = this.options.direct;
    if (!direct) return this.batch;
    // Each entry becomes up to one delivery per endpoint: read no more than the free slots hold
    // (by the endpoints last seen: only a size, so no round trip for the registry's version).
    const perEntry = Math.max(1, (this.cache?.endpoints ?? (await this.endpoints())).filter((w) => w.enabled).length);
    const deadline = Date.now() + DIRECT_WAIT_MS;
    while (this.running && this.slots.taken() >= direct.concurrency() && Date.now() < deadline) await this.slots.freed(deadline);
    return Math.min(this.batch, Math.max(1, Math.floor((direct.concurrency() - this.slots.taken()) / perEntry)));
  }

  /** Claims entries left pending by consumers that stopped (crashed) and fans them out. */
  private async claimAbandoned(minIdleMs = this.claimIdleMs): Promise<void> {
    await this.options.group.claimAbandoned(
      this.consumer,
      { idleMs: minIdleMs, count: this.batch },
      async (claimed) => {
        // Our own entries still waiting for direct attempts are not abandoned: XAUTOCLAIM
        // returns them once idle, but their attempts are under way here.
        const entries = claimed.filter((e) => !this.slots.holds(e.cursor));
        if (entries.length === 0) return;
        this.log.info('claimed abandoned feed entries', { count: entries.length });
        await this.process(entries);
      },
      () => this.running,
    );
  }

  /** The endpoints as of registry `version` (read now when not given). */
  private async endpoints(version?: string): Promise<StoredWebhook[]> {
    version ??= await this.options.registry.version();
    if (this.cache?.version !== version) this.cache = { version, endpoints: await this.options.registry.all() };
    return this.cache.endpoints;
  }

  /**
   * Records and enqueues the deliveries of `entries` (in feed order), then acknowledges them.
   * `version`: the registry's version read after the entries (read now when not given).
   * `fresh`: entries read for the first time, which no delivery record can exist for yet, so
   * their direct deliveries to unordered endpoints are sent before they are recorded.
   * `after`: the batch before, whose records must be handled first (it may fail: its entries
   * stay pending and are claimed again, which does not stop this one).
   */
  async process(entries: FeedEntry[], version?: string, { fresh = false, after }: { fresh?: boolean; after?: Promise<void> } = {}): Promise<void> {
    const endpoints = (await this.endpoints(version)).filter((w) => w.enabled);
    const perEndpoint = deliveriesOf(entries, endpoints, (entry, err) => this.log.error('unreadable feed entry; skipped', { cursor: entry.cursor, error: err.message }));
    const now = this.options.now();
    const direct = this.options.direct;
    const attempts: Promise<void>[] = [];
    // Direct slots free for this batch. A new delivery to an unordered endpoint that gets one
    // is sent now and recorded with its answer (DirectDelivery.attemptNew); the others that get
    // one are claimed as they are recorded (one script call), the rest are queued.
    let free = direct ? direct.concurrency() - this.slots.taken() : 0;
    let claimed = 0;
    const groups = [...perEndpoint].map(([webhook, all]) => {
      const directly = direct?.eligible(webhook) ?? false;
      const items: NewDelivery[] = [];
      const owners: (string | null)[] = [];
      for (const d of all) {
        const slot = directly && free-- > 0;
        if (slot && fresh && !webhook.ordered) {
          const spec = { endpointId: webhook.id, eventId: d.eventId, run: 0, subject: d.subject };
          attempts.push(this.sendDirect(spec, () => direct!.attemptNew(spec, webhook, d, now), false));
          continue;
        }
        if (slot) claimed++;
        items.push(d);
        owners.push(slot ? DeliveryQueue.directOwner({ run: 0 }) : null);
      }
      return { endpointId: webhook.id, items, ...(directly ? { claim: { owners, leaseMs: direct!.leaseMs() } } : {}), webhook };
    });
    // Every endpoint's deliveries in one round trip, written after the requests sent early
    // (`attempts` so far; node:http writes them on the next tick): receivers wake ahead of Redis.
    const results = await this.slots.reserve(claimed, async () => {
      if (attempts.length > 0) await new Promise<void>((resolve) => process.nextTick(resolve));
      const recorded = await this.options.deliveries.ensureAll(groups, 'new', now);
      await after?.catch(() => undefined);
      return recorded;
    });
    const queued: DeliveryJobSpec[] = [];
    groups.forEach(({ webhook, items }, g) => {
      items.forEach((d, i) => {
        const r = results[g]![i]!;
        if (r.code !== 'created' && r.code !== 'pending') return;
        const spec: DeliveryJobSpec = { endpointId: webhook.id, eventId: d.eventId, run: r.run, subject: d.subject };
        const key = DeliveryQueue.jobId(spec);
        const under = this.slots.under(key);
        if (under) attempts.push(under);
        // Recorded and claimed just now: the fan-out sends it ('waiting': an ordered
        // delivery behind its head, which wakes it when done; 'gone': endpoint deleted).
        else if (r.claim?.kind === 'ok') attempts.push(this.sendDirect(spec, () => direct!.attempt(spec, r.claim!)));
        else if (r.claim) return;
        // One already recorded ('pending': a repeat after a crash, or an entry another
        // leader still holds) is enqueued, which BullMQ deduplicates; the job re-sends what a
        // dead process left unfinished, and waits for a live direct attempt's lease to lapse
        // first (never sends alongside). So is one created beyond the free direct slots.
        else queued.push({ ...spec, first: true });
      });
    });
    await this.options.queue.add(queued);
    const cursors = entries.map((e) => e.cursor);
    // Acknowledged only once every direct attempt settled or was handed to the queue: after
    // a crash the entries are still pending, the next leader claims them, and the deliveries
    // recorded but unfinished are sent again (same webhook-id). Not awaited here: the
    // acknowledgement waits to share an XACK (FeedConsumerGroup.ack); stop() waits for it.
    this.slots.ackAfter(
      cursors,
      attempts,
      async () => {
        await this.options.group.ack(cursors);
        this.fannedOut += entries.length;
      },
      (err) => this.log.warn('feed entries unacknowledged; they will be claimed again', { error: err.message }),
    );
  }

  /**
   * One direct attempt; a retry or a wait goes to the queue under the same job id, and so does a
   * recorded delivery if Redis fails (BullMQ retries); one not recorded fails, its entry pending.
   */
  private sendDirect(spec: DeliveryJobSpec, attempt: () => Promise<AttemptNext>, recorded = true): Promise<void> {
    const run = (async () => {
      let next: AttemptNext;
      try {
        next = await attempt();
      } catch (err) {
        if (!recorded) throw err;
        this.log.warn('direct delivery failed; queued', { webhook: spec.endpointId, delivery: spec.eventId, error: (err as Error).message });
        next = { kind: 'later', atMs: Date.now() };
      }
      if (next.kind === 'later') await this.options.queue.add([{ ...spec, delayMs: Math.max(0, next.atMs - Date.now()) }]);
    })();
    return this.slots.track(DeliveryQueue.jobId(spec), run);
  }

  /** True when every feed entry so far was fanned out and acknowledged. */
  async caughtUp(): Promise<boolean> {
    const lag = await this.options.group.lag();
    return lag.pending === 0 && lag.readToEnd;
  }

  /** Waits for the batch being recorded (its failure is thrown here). */
  private async settle(): Promise<void> {
    const inflight = this.inflight;
    this.inflight = undefined;
    await inflight;
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

