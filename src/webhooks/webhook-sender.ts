/**
 * One signed HTTP attempt with got: keep-alive agents whose `lookup` runs the SSRF guard at
 * connect time, redirects not followed (a 3xx is a failure), got's own retries off (the queue
 * owns retries), a hard per-attempt timeout, and only the first 4 KB of the answer kept.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import got, { type Got } from 'got';
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

export class WebhookSender {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly client: Got;

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
    this.now = options.now ?? Date.now;
    this.client = got.extend({
      agent: { http: this.httpAgent, https: this.httpsAgent },
      followRedirect: false,
      retry: { limit: 0 },
      throwHttpErrors: false,
      decompress: true,
      headers: { 'user-agent': options.userAgent ?? 'heat-gateway-webhooks/1', 'content-type': 'application/json' },
    });
  }

  private readonly now: () => number;

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
    // IP literals never reach the agent's lookup: check them here.
    try {
      const host = hostOf(new URL(request.url));
      if (isIP(host)) this.guard().checkAddress(host);
    } catch (err) {
      return result({ error: `refused: ${(err as Error).message}`, refused: err instanceof SsrfError });
    }
    const timestamp = Math.floor(this.now() / 1_000);
    const headers = webhookHeaders(request.secrets, request.id, timestamp, request.body);
    try {
      const stream = this.client.stream.post(request.url, { body: request.body, headers, timeout: { request: request.timeoutMs } });
      let status: number | null = null;
      let retryAfter: string | undefined;
      stream.once('response', (res: http.IncomingMessage) => {
        status = res.statusCode ?? null;
        const header = res.headers['retry-after'];
        retryAfter = Array.isArray(header) ? header[0] : header;
      });
      const chunks: Buffer[] = [];
      let kept = 0;
      let read = 0;
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        read += chunk.length;
        if (kept < RESPONSE_SNIPPET_BYTES) {
          const part = chunk.subarray(0, RESPONSE_SNIPPET_BYTES - kept);
          chunks.push(part);
          kept += part.length;
        }
        if (read > MAX_READ_BYTES) {
          stream.destroy();
          break;
        }
      }
      const code = status as number | null;
      const ok = code !== null && code >= 200 && code < 300;
      return result({
        ok,
        status: code,
        responseBody: chunks.length ? Buffer.concat(chunks).toString('utf8') : '',
        error: ok ? null : code !== null && code >= 300 && code < 400 ? `redirect (${code}) not followed` : `HTTP ${code}`,
        retryAfterMs: code === 429 || code === 503 ? parseRetryAfter(retryAfter, this.now()) : null,
      });
    } catch (err) {
      const e = err as Error & { code?: string; cause?: unknown };
      const ssrf = e instanceof SsrfError ? e : e.cause instanceof SsrfError ? e.cause : null;
      if (ssrf) return result({ error: `refused at connect time: ${ssrf.message}`, refused: true });
      return result({ error: e.code ? `${e.code}: ${e.message}` : e.message });
    }
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** Retry-After as delta-seconds or an HTTP date → ms from now; null when absent or unusable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1_000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}
