/**
 * Server-assisted client-side caching of instance reads (Redis `CLIENT TRACKING`, RESP2
 * redirect mode): a hot read needs no Redis round trip, and a value the cache has replaced
 * is never served once Redis has delivered its invalidation.
 *
 * - The reads connection runs `CLIENT TRACKING ON REDIRECT <id> BCAST PREFIX …`: when any
 *   client changes a key under one of the prefixes, Redis publishes it on
 *   `__redis__:invalidate` to the connection `<id>`, which this class subscribes with.
 *   (Broadcast mode: what a script reads beyond its declared keys is covered too, and Redis
 *   keeps no per-key table.)
 * - An invalidation drops the key; one of a `flushOn` key (something every entry carries)
 *   or a `null` one (FLUSHALL, FLUSHDB) drops everything.
 * - A read whose key is invalidated while the read is in flight is served but not kept
 *   (the reply and the invalidation travel on different connections, so either may come
 *   first). Concurrent reads of one key share one round trip.
 * - When either connection drops, everything is flushed and nothing is kept until both
 *   are back and tracking is on again (a fresh invalidation connection each time, so its
 *   client id is known). While off, reads go to Redis as without the cache.
 * - Values fetched in bulk (a page of documents) are kept only when no invalidation at all
 *   arrived while they were fetched ({@link ticket}, {@link keepAll}).
 * Entries carry the document's version; the cache holds at most `maxEntries` (oldest out).
 * The caller owns the key → value type mapping (`i:<id>` a document, `idx:i` an index, …).
 * The invalidation connection must speak RESP2 (a RESP3 one gets `invalidate` pushes instead).
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../log/logger.js';

export const INVALIDATE_CHANNEL = '__redis__:invalidate';

export interface ReadCacheOptions {
  /** Key prefixes whose changes Redis announces: those of every key an entry is read from. */
  prefixes: string[];
  /** Keys whose change drops every entry. @defaultValue none */
  flushOn?: string[];
  /** @defaultValue 25,000 */
  maxEntries?: number;
}

/** Cache statistics (tests, status). */
export interface ReadCacheStats {
  entries: number;
  hits: number;
  misses: number;
  invalidations: number;
  flushes: number;
  tracking: boolean;
}

/** Taken before a bulk fetch: its values are kept only if nothing changed since. */
export interface CacheTicket {
  readonly changes: number;
  readonly tracking: boolean;
}

export class TrackedReadCache {
  private readonly entries = new Map<string, unknown>();
  /** Keys read right now, and whether an invalidation arrived meanwhile. */
  private readonly inflight = new Map<string, { promise: Promise<unknown>; dirty: boolean }>();
  readonly maxEntries: number;
  /** Bumped by every invalidation, flush and loss of tracking (bulk fetches compare it). */
  private changes = 0;
  private tracking = false;
  private listener: Redis | undefined;
  private stopped = false;
  /** Bumped on every (re)setup so a stale setup never turns tracking on. */
  private generation = 0;
  private readonly figures = { hits: 0, misses: 0, invalidations: 0, flushes: 0 };

  constructor(
    private readonly reads: Redis,
    private readonly openListener: () => Redis,
    private readonly logger: Logger,
    private readonly options: ReadCacheOptions,
  ) {
    this.maxEntries = options.maxEntries ?? 25_000;
    reads.on('close', () => this.off('reads connection closed'));
    // A reconnected reads connection has lost its tracking: set it up again. (Its first
    // `ready` comes from the setup's own CLIENT TRACKING and needs nothing more.)
    let seenReady = false;
    reads.on('ready', () => {
      if (seenReady || (!this.tracking && !this.settingUp)) void this.setup();
      seenReady = true;
    });
  }

  /** Opens the invalidation connection and turns tracking on (again after any loss). */
  async start(): Promise<void> {
    await this.setup();
  }

  /** The cached value of `key`, or `fetch()` (kept when no invalidation raced it). */
  get<V>(key: string, fetch: () => Promise<V | null>): Promise<V | null> {
    const hit = this.entries.get(key) as V | undefined;
    if (hit !== undefined) {
      this.figures.hits++;
      return Promise.resolve(hit);
    }
    const pending = this.inflight.get(key);
    if (pending) return pending.promise as Promise<V | null>;
    this.figures.misses++;
    const keep = this.tracking;
    const entry = { promise: undefined as unknown as Promise<V | null>, dirty: false };
    entry.promise = fetch().then(
      (value) => {
        this.inflight.delete(key);
        // Kept only when tracking was on before the read was sent and still is, and no
        // invalidation for the key came in meanwhile.
        if (value !== null && keep && this.tracking && !entry.dirty) this.keep(key, value);
        return value;
      },
      (err: unknown) => {
        this.inflight.delete(key);
        throw err;
      },
    );
    this.inflight.set(key, entry);
    return entry.promise;
  }

  /** The cached value of `key` without fetching (undefined when not cached). */
  peek<V>(key: string): V | undefined {
    return this.entries.get(key) as V | undefined;
  }

  /** Take before a bulk fetch; pass to {@link keepAll} with its values. */
  ticket(): CacheTicket {
    return { changes: this.changes, tracking: this.tracking };
  }

  /**
   * Keeps values fetched in bulk, when tracking was on before the fetch was sent and still
   * is, and no invalidation at all arrived meanwhile (a bulk fetch does not know up front
   * which keys it reads, so any change may concern it).
   */
  keepAll(values: Iterable<[string, unknown]>, ticket: CacheTicket): boolean {
    if (!ticket.tracking || !this.tracking || ticket.changes !== this.changes) return false;
    for (const [key, value] of values) this.keep(key, value);
    return true;
  }

  stats(): ReadCacheStats {
    return { entries: this.entries.size, ...this.figures, tracking: this.tracking };
  }

  /** Client id of the invalidation connection while tracking is on (tests kill it to check the flush). */
  get listenerId(): number | undefined {
    return this.tracking ? this.listenerClientId : undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.off('stopping');
    this.listener?.disconnect();
    this.listener = undefined;
  }

  private listenerClientId: number | undefined;
  /** A setup is under way (the reads' first `ready` needs no second one). */
  private settingUp = false;
  /** The last setup error, logged once until tracking is back. */
  private lastError = '';

  private keep(key: string, value: unknown): void {
    if (!this.entries.has(key) && this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, value);
  }

  private invalidate(keys: Buffer[] | null): void {
    this.figures.invalidations++;
    this.changes++;
    if (keys === null) {
      this.flush();
      return;
    }
    for (const raw of keys) {
      const key = raw.toString();
      if (this.options.flushOn?.includes(key)) {
        this.flush();
        return;
      }
      this.entries.delete(key);
      const pending = this.inflight.get(key);
      if (pending) pending.dirty = true;
    }
  }

  private flush(): void {
    this.figures.flushes++;
    this.changes++;
    this.entries.clear();
    for (const pending of this.inflight.values()) pending.dirty = true;
  }

  private off(why: string): void {
    if (this.tracking) this.logger.info('read cache off until tracking is back; flushed', { why });
    this.tracking = false;
    this.flush();
  }

  private async setup(): Promise<void> {
    this.settingUp = true;
    try {
      await this.trySetup();
    } finally {
      this.settingUp = false;
    }
  }

  private async trySetup(): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    this.off('setting up');
    const old = this.listener;
    this.listener = undefined;
    old?.removeAllListeners('close');
    old?.disconnect();
    let listener: Redis | undefined;
    try {
      listener = this.openListener();
      this.listener = listener;
      if (listener.status !== 'ready') {
        const opened = listener;
        await new Promise<void>((resolve, reject) => {
          opened.once('ready', () => resolve());
          opened.once('end', () => reject(new Error('invalidation connection ended')));
        });
      }
      if (this.reads.status !== 'ready' && this.reads.status !== 'wait') await new Promise<void>((resolve) => this.reads.once('ready', () => resolve()));
      const id = Number(await listener.client('ID'));
      listener.on('messageBuffer', (channel: Buffer, message: Buffer[] | Buffer | null) => {
        if (channel.toString() !== INVALIDATE_CHANNEL) return;
        this.invalidate(message === null ? null : Array.isArray(message) ? message : [message]);
      });
      // Any loss of the invalidation connection: flush, then start over on a fresh one.
      listener.once('close', () => {
        if (this.listener !== listener || this.stopped) return;
        this.off('invalidation connection closed');
        listener!.disconnect();
        setTimeout(() => void this.setup(), 100).unref();
      });
      await listener.subscribe(INVALIDATE_CHANNEL);
      if (generation !== this.generation || this.stopped) return;
      // Off first: a broadcast prefix may not be registered twice on one connection.
      await this.reads.call('CLIENT', 'TRACKING', 'OFF');
      await this.reads.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', ...this.options.prefixes.flatMap((p) => ['PREFIX', p]));
      if (generation !== this.generation || this.stopped) return;
      this.listenerClientId = id;
      this.tracking = true;
      this.lastError = '';
    } catch (err) {
      // Redis is away or refuses tracking (too old): reads go to Redis; retried on reconnect.
      const error = (err as Error).message;
      if (error !== this.lastError) this.logger.warn('read cache could not turn tracking on; reads go to Redis', { error });
      this.lastError = error;
      if (generation === this.generation && !this.stopped && listener && this.listener === listener) {
        listener.removeAllListeners('close');
        listener.disconnect();
        this.listener = undefined;
        setTimeout(() => void this.setup(), 1_000).unref();
      }
    }
  }
}
