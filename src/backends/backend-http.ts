/**
 * The HTTP layer every backend client shares: got with a per-request timeout, retries of
 * idempotent GETs with jittered exponential backoff, a per-backend concurrency limit, an
 * injectable observer for metrics, credential-free structured logs, and one rule for
 * failures: whatever goes wrong becomes an {@link UpstreamError} with a stable `reason`.
 */
import got, { type Got, RequestError, TimeoutError } from 'got';
import { UpstreamError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { extractErrorMessage } from './backend-body.js';
import { backoffDelayMs, Semaphore } from './backend-pacing.js';

export * from './backend-body.js';
export * from './backend-pacing.js';
import { streamGet, type StreamRequest } from './backend-stream.js';

/**
 * Stable machine-readable failure reasons carried by `UpstreamError.reason`.
 * - `timeout`: no complete answer within `timeoutMs`.
 * - `network`: connection refused/reset, DNS failure, TLS failure.
 * - `http`: a non-2xx status (other than the auth statuses).
 * - `auth`: 401/403 from the backend or Keystone, or a re-authentication that did not help.
 * - `parse`: the body is not valid JSON/XML.
 * - `content_type`: the body is of a media type the call cannot read (e.g. an HTML error page).
 * - `schema`: the body parsed but does not have the documented shape.
 * - `marker_unknown`: a pagination marker the backend no longer knows; resync from scratch.
 * - `too_large`: the body exceeds the backend's `maxResponseBytes` (never retried).
 */
export const UPSTREAM_REASONS = [
  'timeout',
  'network',
  'http',
  'auth',
  'parse',
  'content_type',
  'schema',
  'marker_unknown',
  'too_large',
] as const;
export type UpstreamReason = (typeof UPSTREAM_REASONS)[number];

/** One finished HTTP attempt, as reported to the metrics observer. */
export interface BackendRequestEvent {
  /** Backend id from the config. */
  backend: string;
  /** Logical call, e.g. `heat.listStacks`, `keystone.auth`, `deltacloud.getInstance`. */
  call: string;
  method: string;
  /** HTTP status, or `null` when no response arrived (timeout, network error). */
  status: number | null;
  durationMs: number;
  /** Response body size. */
  bytes: number;
  /** 1 for the first try, 2 for the first retry, … */
  attempt: number;
  /** The failure reason of this attempt, when it failed. */
  error?: UpstreamReason;
}

/** Hook for request metrics; the metrics module connects Prometheus to it. */
export interface BackendObserver {
  onRequest(event: BackendRequestEvent): void;
}

/** An observer that ignores everything. */
export const noopObserver: BackendObserver = { onRequest: () => {} };

/** Options of the shared HTTP layer; the first four come from the backend config. */
export interface BackendHttpOptions {
  backendId: string;
  /** Whole-request timeout (connect to last body byte). */
  timeoutMs: number;
  /** Extra attempts for idempotent GETs. POST is never retried. */
  retries: number;
  /** Requests in flight at once to this backend. */
  concurrency: number;
  logger: Logger;
  observer?: BackendObserver;
  /** First retry delay before jitter. @defaultValue 200 */
  retryBaseDelayMs?: number;
  /** Cap of any retry delay. @defaultValue 5000 */
  retryMaxDelayMs?: number;
  /** Random source in [0, 1) for jitter (tests pin it). @defaultValue Math.random */
  random?: () => number;
  /** Largest body accepted, larger answers fail with `parse`. @defaultValue 32 MiB */
  maxBodyBytes?: number;
}

export interface BackendRequest {
  /** Logical call name for metrics and logs. */
  call: string;
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  searchParams?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  /** JSON request body (POST). */
  json?: unknown;
}

export interface BackendResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The URL finally answered (after redirects). */
  url: string;
  contentType: string;
}

/** Statuses worth another try of an idempotent request. */
const RETRYABLE_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** The got error's cause as a short, credential-free description. */
function describeGotError(err: unknown): string {
  if (err instanceof RequestError) return err.code ? `${err.code}: ${err.message}` : err.message;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Shared transport of one backend. Create one per backend; the semaphore and the counters
 * are per instance.
 */
/** What a client passes on to its HTTP layer besides the backend's own config. */
export type ClientHttpOptions = Pick<BackendHttpOptions, 'logger' | 'observer' | 'retryBaseDelayMs' | 'random'>;

export class BackendHttp {
  /** The HTTP layer of one configured backend (timeouts, retries, concurrency from its config). */
  static forBackend(
    config: { id: string; timeoutMs: number; retries: number; concurrency: number; maxResponseBytes?: number },
    options: ClientHttpOptions,
  ): BackendHttp {
    return new BackendHttp({
      backendId: config.id,
      timeoutMs: config.timeoutMs,
      retries: config.retries,
      concurrency: config.concurrency,
      ...(config.maxResponseBytes !== undefined ? { maxBodyBytes: config.maxResponseBytes } : {}),
      logger: options.logger,
      ...(options.observer ? { observer: options.observer } : {}),
      ...(options.retryBaseDelayMs !== undefined ? { retryBaseDelayMs: options.retryBaseDelayMs } : {}),
      ...(options.random ? { random: options.random } : {}),
    });
  }

  readonly backendId: string;
  /** @internal shared with backend-stream.ts */
  readonly got: Got;
  /** @internal shared with backend-stream.ts */
  readonly semaphore: Semaphore;
  /** @internal shared with backend-stream.ts */
  readonly observer: BackendObserver;
  /** @internal shared with backend-stream.ts */
  readonly logger: Logger;
  private readonly retries: number;
  private readonly retryBaseDelayMs: number;
  private readonly retryMaxDelayMs: number;
  private readonly random: () => number;
  /** @internal shared with backend-stream.ts */
  readonly maxBodyBytes: number;
  /** @internal shared with backend-stream.ts */
  readonly timeoutMs: number;

  constructor(options: BackendHttpOptions) {
    this.backendId = options.backendId;
    this.semaphore = new Semaphore(options.concurrency);
    this.observer = options.observer ?? noopObserver;
    this.logger = options.logger.child({ backend: options.backendId });
    this.retries = options.retries;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 200;
    this.retryMaxDelayMs = options.retryMaxDelayMs ?? 5_000;
    this.random = options.random ?? Math.random;
    this.maxBodyBytes = options.maxBodyBytes ?? 32 * 1_048_576;
    this.timeoutMs = options.timeoutMs;
    this.got = got.extend({
      // A backstop only; the deadline in attempt() is what callers rely on.
      timeout: { request: options.timeoutMs + 1_000 },
      // Retries are ours: got's would not know about the semaphore or the observer.
      retry: { limit: 0 },
      throwHttpErrors: false,
      responseType: 'buffer',
      // Heat answers a stack lookup by name with a 302 to name/id on the same host. Only
      // same-origin redirects are followed: X-Auth-Token must not travel to another host.
      followRedirect: (response) => {
        const location = response.headers.location;
        if (!location) return false;
        try {
          return new URL(location, response.url).origin === new URL(response.url).origin;
        } catch {
          return false;
        }
      },
      maxRedirects: 3,
      decompress: true,
      headers: { 'user-agent': 'heat-gateway' },
    });
  }

  /** A GET whose body streams to `consume` (see backend-stream.ts); not retried. */
  streamGet<T>(req: StreamRequest, consume: (chunks: AsyncIterable<Buffer>, contentType: string, status: number) => Promise<T>): Promise<T> {
    return streamGet(this as unknown as Parameters<typeof streamGet>[0], req, consume);
  }

  /** Requests currently holding a concurrency slot. */
  get inFlight(): number {
    return this.semaphore.inFlight;
  }

  /**
   * Sends a request and returns a 2xx response; anything else throws an
   * {@link UpstreamError}. GETs are retried on timeouts, network errors and
   * 408/429/5xx; POSTs never are.
   */
  async request(req: BackendRequest): Promise<BackendResponse> {
    const maxAttempts = req.method === 'GET' ? this.retries + 1 : 1;
    let lastError: UpstreamError | undefined;
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      if (attempt > 1) {
        const delayMs = backoffDelayMs(attempt - 1, this.retryBaseDelayMs, this.retryMaxDelayMs, this.random);
        this.logger.debug('retrying backend request', { call: req.call, attempt, delayMs, reason: lastError?.reason });
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
      try {
        return await this.attempt(req, attempt);
      } catch (err) {
        if (!(err instanceof UpstreamError)) throw err;
        lastError = err;
        const retryable =
          err.reason === 'timeout' ||
          err.reason === 'network' ||
          (err.reason === 'http' && err.upstreamStatus !== undefined && RETRYABLE_STATUSES.has(err.upstreamStatus));
        if (!retryable || attempt === maxAttempts) throw err;
      }
    }
    // Unreachable: the loop either returns or throws.
    throw lastError ?? new UpstreamError('no attempt made', { backend: this.backendId, reason: 'network' });
  }

  private async attempt(req: BackendRequest, attempt: number): Promise<BackendResponse> {
    const release = await this.semaphore.acquire();
    const started = performance.now();
    let status: number | null = null;
    let bytes = 0;
    let reason: UpstreamReason | undefined;
    try {
      const searchParams: Record<string, string | number | boolean> = {};
      for (const [k, v] of Object.entries(req.searchParams ?? {})) if (v !== undefined) searchParams[k] = v;
      let res;
      // Our own deadline over the whole exchange: however the transport reports the abort
      // (TimeoutError, ECONNRESET, AbortError), a request that outlived it is a timeout.
      const abort = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        abort.abort();
      }, this.timeoutMs);
      try {
        res = await this.got(req.url, {
          method: req.method,
          headers: req.headers,
          signal: abort.signal,
          ...(Object.keys(searchParams).length ? { searchParams } : {}),
          ...(req.json !== undefined ? { json: req.json } : {}),
        });
      } catch (err) {
        reason = timedOut || err instanceof TimeoutError ? 'timeout' : 'network';
        throw new UpstreamError(
          reason === 'timeout'
            ? `${req.call}: no answer from backend ${this.backendId} within the timeout; raise timeoutMs or check the backend`
            : `${req.call}: cannot reach backend ${this.backendId} (${describeGotError(err)})`,
          { backend: this.backendId, reason },
          { cause: err },
        );
      } finally {
        clearTimeout(timer);
      }
      status = res.statusCode;
      const body = res.rawBody ?? Buffer.alloc(0);
      bytes = body.length;
      const contentType = String(res.headers['content-type'] ?? '');
      if (bytes > this.maxBodyBytes) {
        reason = 'too_large';
        throw new UpstreamError(`${req.call}: response of ${bytes} bytes exceeds maxResponseBytes (${this.maxBodyBytes}); raise backends[].maxResponseBytes of '${this.backendId}'`, {
          backend: this.backendId,
          reason,
          upstreamStatus: status,
          body: body.subarray(0, 1_024),
        });
      }
      if (status < 200 || status >= 300) {
        reason = status === 401 || status === 403 ? 'auth' : 'http';
        const message = extractErrorMessage(body, contentType);
        throw new UpstreamError(
          `${req.call}: backend ${this.backendId} answered HTTP ${status}${message ? `: ${message}` : ''}`,
          { backend: this.backendId, reason, upstreamStatus: status, body },
        );
      }
      return { status, headers: res.headers, body, url: res.url, contentType };
    } finally {
      release();
      const durationMs = performance.now() - started;
      this.observer.onRequest({
        backend: this.backendId,
        call: req.call,
        method: req.method,
        status,
        durationMs,
        bytes,
        attempt,
        ...(reason ? { error: reason } : {}),
      });
      // URLs carry no credentials (tokens travel in headers), so they are safe to log.
      this.logger.debug('backend request', { call: req.call, method: req.method, url: req.url, status, durationMs, bytes, attempt, error: reason });
    }
  }
}
