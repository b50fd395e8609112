/**
 * `GET /status/stream`: the live status page as Server-Sent Events, in the same shape as
 * `/v1/events/stream` (`retry:`, `: heartbeat` comments, no proxy buffering, a cap per
 * replica, closed when the gateway stops). One loop per replica builds one snapshot per
 * second while anyone watches; each stream gets `event: sections` with only the sections
 * whose HTML changed since it last heard, so a quiet gateway sends nothing but heartbeats.
 */
import type { Request, Response } from 'express';
import type { Authenticator, Principal } from '../http/auth.js';
import { UnavailableError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { BaseSnapshot } from './status-collector.js';
import type { StatusSnapshot } from './status-schema.js';
import { renderSections, type Section } from './status-sections.js';

export interface StatusStreamOptions {
  /** Time between updates; the page never updates faster. @defaultValue 1000 */
  intervalMs: number;
  /** @defaultValue 15000 */
  heartbeatMs: number;
  /** Status streams one replica serves at once. @defaultValue 100 */
  maxStreams: number;
}

export const DEFAULT_STATUS_STREAM_OPTIONS: StatusStreamOptions = { intervalMs: 1_000, heartbeatMs: 15_000, maxStreams: 100 };

interface Watcher {
  req: Request;
  res: Response;
  principal: Principal;
  sent: Map<string, string>;
  lastWriteMs: number;
  /** When the last `sections` event went out: never two within `intervalMs`. */
  lastUpdateMs: number;
  blocked: boolean;
}

/** The viewer part of the snapshot: admins get the controls. */
export function withViewer(base: BaseSnapshot, principal: Principal): StatusSnapshot {
  return { ...base, viewer: { name: principal.name, role: principal.role, canControl: principal.role === 'admin' } };
}

export class StatusStreams {
  private readonly watchers = new Set<Watcher>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly deps: { snapshot: () => Promise<BaseSnapshot>; auth: Authenticator; logger: Logger; now: () => number },
    private readonly options: StatusStreamOptions = DEFAULT_STATUS_STREAM_OPTIONS,
  ) {}

  get size(): number {
    return this.watchers.size;
  }

  serve(req: Request, res: Response, principal: Principal): void {
    if (this.stopped) throw new UnavailableError('the gateway is stopping; reconnect to another replica', { retryAfterSeconds: 1 });
    if (this.watchers.size >= this.options.maxStreams) {
      throw new UnavailableError(`this replica already serves ${this.options.maxStreams} status streams; retry later`, { retryAfterSeconds: 5 });
    }
    const watcher: Watcher = { req, res, principal, sent: new Map(), lastWriteMs: Date.now(), lastUpdateMs: 0, blocked: false };
    this.watchers.add(watcher);
    res.once('close', () => this.drop(watcher));
    res.on('drain', () => (watcher.blocked = false));
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(`retry: ${this.options.intervalMs * 2}\n: connected\n\n`);
    // The first update goes to the new stream at once; the others keep their pace.
    void this.update([watcher]);
    this.schedule();
  }

  /** One round every `intervalMs` after the previous round finished, while anyone watches. */
  private schedule(): void {
    if (this.timer || this.stopped || this.watchers.size === 0) return;
    this.timer = setTimeout(() => {
      void this.update([...this.watchers]).finally(() => {
        this.timer = undefined;
        this.schedule();
      });
    }, this.options.intervalMs);
  }

  private drop(watcher: Watcher): void {
    this.watchers.delete(watcher);
    if (!watcher.res.writableEnded) watcher.res.end();
    if (this.watchers.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private async update(watchers: Watcher[]): Promise<void> {
    try {
      const base = await this.deps.snapshot();
      const nowMs = this.deps.now();
      const rendered = new Map<string, Section[]>();
      for (const watcher of watchers) {
        if (!this.watchers.has(watcher)) continue;
        // A token removed from the config (reload) ends its streams; the page then signs out.
        const principal = this.deps.auth.fromRequest(watcher.req);
        if (!principal || principal.role !== watcher.principal.role) {
          this.drop(watcher);
          continue;
        }
        if (watcher.blocked || Date.now() - watcher.lastUpdateMs < this.options.intervalMs) continue;
        const key = `${principal.role}:${principal.name}`;
        let sections = rendered.get(key);
        if (!sections) rendered.set(key, (sections = renderSections(withViewer(base, principal), nowMs)));
        const changed: Record<string, string> = {};
        for (const s of sections) {
          if (watcher.sent.get(s.id) !== s.html) {
            changed[s.id] = s.html;
            watcher.sent.set(s.id, s.html);
          }
        }
        if (Object.keys(changed).length > 0) {
          watcher.lastUpdateMs = Date.now();
          this.write(watcher, `event: sections\ndata: ${JSON.stringify({ generatedAt: base.generatedAt, sections: changed })}\n\n`);
        } else if (Date.now() - watcher.lastWriteMs >= this.options.heartbeatMs) {
          this.write(watcher, ': heartbeat\n\n');
        }
      }
    } catch (err) {
      // Redis away: keep the streams open (heartbeats), the page shows the last figures.
      this.deps.logger.debug('status update skipped', { error: (err as Error).message });
      for (const watcher of watchers) {
        if (this.watchers.has(watcher) && Date.now() - watcher.lastWriteMs >= this.options.heartbeatMs) this.write(watcher, ': heartbeat\n\n');
      }
    }
  }

  private write(watcher: Watcher, chunk: string): void {
    watcher.lastWriteMs = Date.now();
    // Backpressure: a slow client is skipped until it drained; it gets the newest state then.
    if (!watcher.res.write(chunk)) watcher.blocked = true;
  }

  /** Ends every stream (gateway stop). */
  closeAll(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const watcher of [...this.watchers]) {
      const socket = watcher.res.socket;
      this.watchers.delete(watcher);
      if (!watcher.res.writableEnded) watcher.res.end(() => socket?.destroy());
    }
  }
}
