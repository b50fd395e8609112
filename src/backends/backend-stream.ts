/**
 * A GET whose 2xx body is handed to a consumer chunk by chunk instead of being buffered:
 * for listings too large to hold in memory as text and again as a parsed tree (Deltacloud's
 * `/api/instances` at 100,000 instances is ~130 MB of XML). The body is still bounded by the
 * backend's `maxResponseBytes`, and going over it fails with reason `too_large` naming the
 * key to raise; it is never retried, so a poll fails clearly instead of looping.
 */
import { RequestError, TimeoutError, type Got } from 'got';
import { UpstreamError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { BackendObserver, Semaphore, UpstreamReason } from './backend-http.js';
import { extractErrorMessage } from './backend-http.js';

export interface StreamTransport {
  backendId: string;
  got: Got;
  semaphore: Semaphore;
  observer: BackendObserver;
  logger: Logger;
  timeoutMs: number;
  maxBodyBytes: number;
}

export interface StreamRequest {
  call: string;
  url: string;
  headers?: Record<string, string>;
}

/** Reads the body to `consume`; the consumer's own errors pass through unchanged. */
export async function streamGet<T>(
  t: StreamTransport,
  req: StreamRequest,
  consume: (chunks: AsyncIterable<Buffer>, contentType: string, status: number) => Promise<T>,
): Promise<T> {
  const release = await t.semaphore.acquire();
  const started = performance.now();
  let status: number | null = null;
  let bytes = 0;
  let reason: UpstreamReason | undefined;
  const abort = new AbortController();
  let timedOut = false;
  // The timeout is the backend's: time the consumer holds a chunk (parsing it, writing what it
  // parsed to the store) is not charged to the backend, so a listing written as it streams
  // times out as late as one only parsed would.
  let heldMs = 0;
  let heldSince: number | undefined;
  let timer: NodeJS.Timeout;
  const arm = (ms: number) => {
    timer = setTimeout(() => {
      const now = performance.now();
      const charged = now - started - heldMs - (heldSince === undefined ? 0 : now - heldSince);
      if (charged < t.timeoutMs) return arm(t.timeoutMs - charged);
      timedOut = true;
      abort.abort();
    }, ms);
  };
  arm(t.timeoutMs);
  const transportError = (err: unknown): UpstreamError => {
    reason = timedOut || err instanceof TimeoutError ? 'timeout' : 'network';
    const detail = err instanceof RequestError && err.code ? `${err.code}: ${err.message}` : (err as Error).message;
    return new UpstreamError(
      reason === 'timeout'
        ? `${req.call}: no complete answer from backend ${t.backendId} within the timeout; raise timeoutMs or check the backend`
        : `${req.call}: cannot reach backend ${t.backendId} (${detail})`,
      { backend: t.backendId, reason },
      { cause: err },
    );
  };
  try {
    // got's own whole-request backstop would count the consumer's time too: the timer above is
    // this request's deadline.
    const stream = t.got.stream(req.url, { headers: req.headers ?? {}, signal: abort.signal, timeout: { request: undefined } });
    const response = await new Promise<{ statusCode: number; headers: Record<string, string | string[] | undefined> }>((resolve, reject) => {
      stream.once('response', resolve);
      stream.once('error', reject);
    }).catch((err: unknown) => {
      throw transportError(err);
    });
    status = response.statusCode;
    const contentType = String(response.headers['content-type'] ?? '');
    if (status < 200 || status >= 300) {
      const chunks: Buffer[] = [];
      let kept = 0;
      for await (const chunk of stream as AsyncIterable<Buffer>) if (kept < 65_536) (chunks.push(chunk), (kept += chunk.length));
      const body = Buffer.concat(chunks);
      bytes = body.length;
      reason = status === 401 || status === 403 ? 'auth' : 'http';
      const message = extractErrorMessage(body, contentType);
      throw new UpstreamError(`${req.call}: backend ${t.backendId} answered HTTP ${status}${message ? `: ${message}` : ''}`, {
        backend: t.backendId,
        reason,
        upstreamStatus: status,
        body,
      });
    }
    const counted = async function* (): AsyncGenerator<Buffer> {
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          bytes += chunk.length;
          if (bytes > t.maxBodyBytes) {
            reason = 'too_large';
            throw new UpstreamError(
              `${req.call}: backend ${t.backendId} sent more than maxResponseBytes (${t.maxBodyBytes} bytes); ` +
                `raise backends[].maxResponseBytes of '${t.backendId}' if the account really is this large`,
              { backend: t.backendId, reason, upstreamStatus: status ?? undefined },
            );
          }
          heldSince = performance.now();
          yield chunk;
          heldMs += performance.now() - heldSince;
          heldSince = undefined;
        }
      } catch (err) {
        if (err instanceof UpstreamError) throw err;
        throw transportError(err);
      } finally {
        stream.destroy();
      }
    };
    try {
      return await consume(counted(), contentType, status);
    } catch (err) {
      if (err instanceof UpstreamError && !reason) reason = err.reason as UpstreamReason;
      throw err;
    }
  } finally {
    clearTimeout(timer!);
    release();
    const durationMs = performance.now() - started;
    t.observer.onRequest({ backend: t.backendId, call: req.call, method: 'GET', status, durationMs, bytes, attempt: 1, ...(reason ? { error: reason } : {}) });
    t.logger.debug('backend request', { call: req.call, method: 'GET', url: req.url, status, durationMs, bytes, stream: true, error: reason });
  }
}
