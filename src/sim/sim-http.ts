/**
 * The request/reply shapes the simulated APIs share. Handlers are plain functions from a
 * parsed request to a reply; the server core applies faults, writes and counts them.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface SimRequest {
  method: string;
  /** Path below the API's prefix, e.g. `/stacks/x/y/resources`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** `http://host:port` as the client addressed us (used for hrefs and links). */
  origin: string;
  /** Full request path and query as received. */
  rawUrl: string;
  body(): Promise<string>;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  /** A Buffer lets big cached bodies go out without a copy. */
  body?: string | Buffer;
  /** Route template for accounting, e.g. `/stacks/:name/:id`. */
  template: string;
  /** Modeled backend work units. @defaultValue 1 */
  work?: number;
}

export function json(status: number, value: unknown, template: string, headers: Record<string, string> = {}): Reply {
  return {
    status,
    template,
    headers: { 'Content-Type': 'application/json; charset=UTF-8', ...headers },
    body: JSON.stringify(value),
  };
}

export function header(req: SimRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) =>
    c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : c === "'" ? '&apos;' : '&quot;',
  );
}

/** Heat and Nova print times as `2014-06-03T20:59:46Z` (whole seconds). */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
