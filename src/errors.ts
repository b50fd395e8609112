/**
 * The gateway's error family. Every error the HTTP layer can meet is one of these;
 * the single error middleware (src/http/problem.ts) maps them to RFC 9457 problem+json.
 * Messages say what to change, not only what went wrong.
 */

/** One field-level problem, as served in `errors: [{path, message}]`. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** Base class: keeps `cause`, sets `name`, and knows its HTTP status. */
export abstract class GatewayError extends Error {
  abstract readonly status: number;
  /** Short, stable human title for the problem document. */
  abstract readonly title: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The caller sent something invalid (400, or `status` for 413/415/422-style cases). */
export class InputError extends GatewayError {
  readonly title: string;
  readonly status: number;
  readonly errors: FieldProblem[];

  constructor(
    message: string,
    errors: FieldProblem[] = [],
    options?: { cause?: unknown; status?: number; title?: string },
  ) {
    super(message, options);
    this.errors = errors;
    this.status = options?.status ?? 400;
    this.title = options?.title ?? 'Invalid request';
  }
}

export class AuthError extends GatewayError {
  readonly title: string;
  readonly status: 401 | 403;
  constructor(message: string, status: 401 | 403 = 401) {
    super(message);
    this.status = status;
    this.title = status === 401 ? 'Unauthorized' : 'Forbidden';
  }
}

export class NotFoundError extends GatewayError {
  readonly status = 404;
  readonly title = 'Not found';
}

export class ConflictError extends GatewayError {
  readonly status = 409;
  readonly title = 'Conflict';
}

export class RateLimitError extends GatewayError {
  readonly status = 429;
  readonly title = 'Too many requests';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** Longest response-body excerpt an UpstreamError keeps, so logs and problems stay bounded. */
export const UPSTREAM_SNIPPET_BYTES = 512;

/**
 * A backend (Keystone, Heat, Deltacloud) failed or answered something we cannot use.
 * `upstreamStatus` is the backend's HTTP status when there was one.
 */
export class UpstreamError extends GatewayError {
  readonly status = 502;
  readonly title = 'Backend error';
  readonly backend: string;
  readonly upstreamStatus: number | undefined;
  readonly snippet: string | undefined;
  /** Stable machine-readable reason, e.g. `timeout`, `http`, `schema`, `parse`, `marker_unknown`. */
  readonly reason: string;

  constructor(
    message: string,
    details: { backend: string; reason: string; upstreamStatus?: number; body?: string | Buffer },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.backend = details.backend;
    this.reason = details.reason;
    this.upstreamStatus = details.upstreamStatus;
    this.snippet = details.body === undefined ? undefined : snippet(details.body);
  }
}

/** A dependency (Redis, every backend) is unavailable; the caller may retry later. */
export class UnavailableError extends GatewayError {
  readonly status = 503;
  readonly title = 'Service unavailable';
  constructor(
    message: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(message, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
  readonly retryAfterSeconds: number | undefined;
}

/** First {@link UPSTREAM_SNIPPET_BYTES} bytes of a body, as text, marked when cut. */
export function snippet(body: string | Buffer, maxBytes = UPSTREAM_SNIPPET_BYTES): string {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  if (buf.length <= maxBytes) return buf.toString('utf8');
  return `${buf.subarray(0, maxBytes).toString('utf8')}…[${buf.length - maxBytes} more bytes]`;
}
