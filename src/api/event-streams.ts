/**
 * `GET /v1/events/stream`: the change feed as Server-Sent Events. Each open stream has its
 * own blocking Redis connection (XREAD BLOCK), so a slow client only ever waits on itself;
 * the connection is closed when the client goes away and when the gateway stops.
 *
 * Wire format per event: `id: <cursor>`, `event: <type>`, `data: <event JSON with cursor>`.
 * Comment lines (`: heartbeat`) keep proxies from closing an idle stream. When the cursor
 * to resume from is older than retention, an `event: resync` (no id) comes first.
 */
import { once } from 'node:events';
import type { Response } from 'express';
import { UnavailableError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ChangeFeed, FeedEntry } from '../store/change-feed.js';

export interface EventStreamOptions {
  /** Interval of `: heartbeat` comment lines. @defaultValue 15000 */
  heartbeatMs: number;
  /** Longest one XREAD BLOCK waits before the loop re-checks. @defaultValue 5000 */
  blockMs: number;
  /** Streams one process keeps open at once (each holds a Redis connection). @defaultValue 500 */
  maxStreams: number;
  /** Events per XREAD. @defaultValue 200 */
  batch: number;
  /** `retry:` hint sent to EventSource clients. @defaultValue 2000 */
  retryMs: number;
}

export const DEFAULT_EVENT_STREAM_OPTIONS: EventStreamOptions = {
  heartbeatMs: 15_000,
  blockMs: 5_000,
  maxStreams: 500,
  batch: 200,
  retryMs: 2_000,
};

/** The stored event JSON with `"cursor"` appended, by concatenation (the JSON always ends in `}`). */
export function eventJson(entry: FeedEntry): string {
  return `${entry.json.slice(0, -1)},"cursor":"${entry.cursor}"}`;
}

interface OpenStream {
  /** `stopping`: also close the socket, so the server's graceful close need not wait for it. */
  close(stopping?: boolean): void;
}

export class EventStreams {
  private readonly open = new Set<OpenStream>();
  private stopped = false;

  constructor(
    private readonly deps: { feed: ChangeFeed; metrics: Metrics; logger: Logger },
    private readonly options: EventStreamOptions,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /**
   * Streams events after `after` (exclusive; `0` = the oldest kept; undefined = only events
   * appended from now on) until the client disconnects or the gateway stops.
   */
  async serve(res: Response, after: string | undefined): Promise<void> {
    if (this.stopped) throw new UnavailableError('the gateway is stopping; reconnect to another replica', { retryAfterSeconds: 1 });
    if (this.open.size >= this.options.maxStreams) {
      throw new UnavailableError(`this replica already serves ${this.options.maxStreams} event streams; retry later or poll GET /v1/events`, {
        retryAfterSeconds: 5,
      });
    }
    if (res.req.method === 'HEAD') {
      // A HEAD has no body to stream: answer the headers and end, instead of holding a
      // stream slot and a Redis connection open forever for a response that never ends.
      res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform' }).end();
      return;
    }
    // Resolve "from now" to a concrete cursor once, so the first blocking read cannot skip
    // an event appended between connect and read.
    let from = after ?? (await this.deps.feed.info()).lastGeneratedCursor;
    const feed = this.deps.feed.follow();

    let closed = false;
    const stream: OpenStream = {
      close: (stopping = false) => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        // Rejects the pending blocking read at once; the loop below then exits.
        feed.close();
        this.open.delete(stream);
        this.deps.metrics.eventStreams.set(this.open.size);
        // The socket is detached from the response once it finishes: keep a reference.
        const socket = res.socket;
        if (!res.writableEnded) res.end(stopping ? () => socket?.destroy() : undefined);
      },
    };
    this.open.add(stream);
    this.deps.metrics.eventStreams.set(this.open.size);
    res.once('close', () => stream.close());

    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // nginx buffers responses by default; an event stream must not be.
      'X-Accel-Buffering': 'no',
    });
    res.write(`retry: ${this.options.retryMs}\n: connected\n\n`);
    const heartbeat = setInterval(() => {
      if (!closed) res.write(': heartbeat\n\n');
    }, this.options.heartbeatMs);
    heartbeat.unref();

    while (!closed) {
      let page;
      try {
        page = await feed.read(from, this.options.batch, this.options.blockMs);
      } catch (err) {
        if (!closed) {
          this.deps.logger.warn('event stream read failed; closing the stream (the client resumes with Last-Event-ID)', {
            error: (err as Error).message,
          });
          stream.close();
        }
        return;
      }
      if (closed) return;
      let chunk = '';
      if (page.gap) {
        chunk +=
          `event: resync\ndata: {"resyncRequired":true,"after":"${from}",` +
          `"detail":"events after this cursor were removed by retention; reload state from the reads, then keep applying the events that follow"}\n\n`;
        // Continue with everything still kept; "0" never reports a gap again.
        if (page.entries.length === 0) page.next = '0';
      }
      for (const entry of page.entries) chunk += `id: ${entry.cursor}\nevent: ${entry.type}\ndata: ${eventJson(entry)}\n\n`;
      from = page.next;
      if (chunk !== '' && !res.write(chunk)) {
        // Backpressure: read no more from Redis until the client has taken what it has.
        await Promise.race([once(res, 'drain'), once(res, 'close')]);
      }
    }
  }

  /** Ends every open stream and closes its Redis connection (gateway stop). */
  closeAll(): void {
    this.stopped = true;
    for (const stream of [...this.open]) stream.close(true);
  }
}
