/**
 * One signed HTTP attempt with node:http on keep-alive agents whose `lookup` runs the SSRF
 * guard at connect time (IP literals, which skip `lookup`, are checked before the request):
 * redirects are not followed (a 3xx is a failure), no retries here (the queue owns them), a
 * hard per-attempt timeout over the whole exchange, a gzip/deflate/br answer decoded, only
 * the first 4 KB of the answer kept and reading stopped past 64 KB.
 *
 * Why not got (the stack's HTTP client, still used elsewhere): an attempt is one POST of a
 * ready body on a pooled connection, and got's per-request machinery (options merging,
 * hooks, its stream wrapper, timers per phase) cost more CPU than the whole rest of a
 * delivery — Redis scripts, signing, bookkeeping — so a gateway sending with got could not
 * keep up with a bare got loop on the same cores (bench/delivery.ts).
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import zlib from 'node:zlib';
import type { Readable } from 'node:stream';
import { hostOf, SsrfError, type SsrfGuard } from './ssrf-guard.js';
import { webhookHeaders } from './webhook-signer.js';

/** Response bytes kept in the attempt log. */
export const RESPONSE_SNIPPET_BYTES = 4_096;
/** We stop reading (and drop the connection) past this many response bytes. */
const MAX_READ_BYTES = 64 * 1_024;

export interface SendRequest {
  url: string;
  /** `webhook-id`: the same for every attempt of one event to one endpoint. */
  id: string;
  body: string;
  /** Secrets signing this attempt, newest first. */
  secrets: readonly string[];
  timeoutMs: number;
}

export interface SendResult {
  ok: boolean;
  status: number | null;
  durationMs: number;
  responseBody: string | null;
  error: string | null;
  /** Retry-After of a 429/503, in ms (not clamped). */
  retryAfterMs: number | null;
  /** The SSRF guard refused the address; nothing was sent. */
  refused: boolean;
}

interface Answer {
  status: number;
  retryAfter: string | undefined;
  snippet: string;
}

class TimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
}

export class WebhookSender {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly userAgent: string;
  private readonly now: () => number;

  constructor(
    private readonly guard: () => SsrfGuard,
    options: { maxSockets?: number; userAgent?: string; now?: () => number } = {},
  ) {
    // The lookup is called per new connection; it reads the current guard so a config reload
    // (allowNetworks) applies to the next connection.
    const lookup = ((host: string, opts: object, cb: never) => this.guard().lookup(host, opts, cb)) as unknown as http.AgentOptions['lookup'];
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 256, maxFreeSockets: 64, scheduling: 'lifo' as const, lookup };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);
    this.userAgent = options.userAgent ?? 'heat-gateway-webhooks/1';
    this.now = options.now ?? Date.now;
  }

  async send(request: SendRequest): Promise<SendResult> {
    const started = performance.now();
    const result = (fields: Partial<SendResult>): SendResult => ({
      ok: false,
      status: null,
      responseBody: null,
      error: null,
      retryAfterMs: null,
      refused: false,
      ...fields,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
    });
    let url: URL;
    try {
      url = new URL(request.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported protocol ${url.protocol}`);
      // IP literals never reach the agent's lookup: check them here.
      const host = hostOf(url);
      if (isIP(host)) this.guard().checkAddress(host);
    } catch (err) {
      return result({ error: `refused: ${(err as Error).message}`, refused: err instanceof SsrfError });
    }
    const timestamp = Math.floor(this.now() / 1_000);
    try {
      const answer = await this.post(url, request, webhookHeaders(request.secrets, request.id, timestamp, request.body));
      const code = answer.status;
      const ok = code >= 200 && code < 300;
      return result({
        ok,
        status: code,
        responseBody: answer.snippet,
        error: ok ? null : code >= 300 && code < 400 ? `redirect (${code}) not followed` : `HTTP ${code}`,
        retryAfterMs: code === 429 || code === 503 ? parseRetryAfter(answer.retryAfter, this.now()) : null,
      });
    } catch (err) {
      const e = err as Error & { code?: string; cause?: unknown };
      const ssrf = e instanceof SsrfError ? e : e.cause instanceof SsrfError ? e.cause : null;
      if (ssrf) return result({ error: `refused at connect time: ${ssrf.message}`, refused: true });
      return result({ error: e.code ? `${e.code}: ${e.message}` : e.message });
    }
  }

  /** One POST; resolves with the status and the first bytes of the (decoded) answer. */
  private post(url: URL, request: SendRequest, signed: Record<string, string>): Promise<Answer> {
    const body = Buffer.from(request.body, 'utf8');
    const secure = url.protocol === 'https:';
    return new Promise<Answer>((resolve, reject) => {
      let settled = false;
      const finish = (error: Error | null, answer?: Answer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(answer!);
      };
      const req = (secure ? https : http).request({
        protocol: url.protocol,
        hostname: hostOf(url),
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        agent: secure ? this.httpsAgent : this.httpAgent,
        ...(url.username ? { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` } : {}),
        headers: {
          'user-agent': this.userAgent,
          'content-type': 'application/json',
          'content-length': body.length,
          'accept-encoding': 'gzip, deflate, br',
          ...signed,
        },
      });
      const timer = setTimeout(() => {
        const error = new TimeoutError(`Timeout awaiting the answer for ${request.timeoutMs}ms`);
        finish(error);
        req.destroy(error);
      }, request.timeoutMs);
      req.once('error', (err) => finish(err));
      req.once('response', (res) => {
        const status = res.statusCode ?? 0;
        const header = res.headers['retry-after'];
        const retryAfter = Array.isArray(header) ? header[0] : header;
        const stream = decoded(res);
        const chunks: Buffer[] = [];
        let kept = 0;
        let read = 0;
        const done = () => finish(null, { status, retryAfter, snippet: Buffer.concat(chunks).toString('utf8') });
        stream.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (kept < RESPONSE_SNIPPET_BYTES) {
            const part = chunk.subarray(0, RESPONSE_SNIPPET_BYTES - kept);
            chunks.push(part);
            kept += part.length;
          }
          if (read > MAX_READ_BYTES) {
            // Enough: the connection is dropped rather than drained.
            done();
            res.destroy();
          }
        });
        stream.once('end', done);
        stream.once('error', (err) => finish(err));
        res.once('aborted', () => finish(new Error('the receiver closed the connection mid-answer')));
      });
      req.end(body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** The answer's body, decoded per its Content-Encoding (gzip, deflate, br). */
function decoded(res: http.IncomingMessage): Readable {
  const encoding = String(res.headers['content-encoding'] ?? '').trim().toLowerCase();
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? zlib.createGunzip()
      : encoding === 'deflate'
        ? zlib.createInflate()
        : encoding === 'br'
          ? zlib.createBrotliDecompress()
          : null;
  if (!decoder) return res;
  res.once('error', (err) => decoder.destroy(err));
  return res.pipe(decoder);
}

/** Retry-After as delta-seconds or an HTTP date → ms from now; null when absent or unusable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1_000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}
