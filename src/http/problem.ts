/**
 * RFC 9457 problem+json: the one error middleware, the 404 handler, and the helper every
 * route uses to answer a problem. Never a stack trace, never an HTML page.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { GatewayError, InputError, RateLimitError, UnavailableError, UpstreamError, type FieldProblem } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { asRedisUnavailable } from '../redis/redis-errors.js';

export const PROBLEM_TYPE_BASE = 'https://heat-gateway.dev/problems/';

export interface Problem {
  status: number;
  title: string;
  detail: string;
  /** Defaults to a URI derived from the title. */
  type?: string;
  errors?: FieldProblem[];
  [extension: string]: unknown;
}

/** Answers `problem` (plain node response, so routes served before express use it too). */
export function sendProblem(res: ServerResponse, problem: Problem): void {
  const type = problem.type ?? `${PROBLEM_TYPE_BASE}${problem.title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  const body = JSON.stringify({ ...problem, type });
  res.statusCode = problem.status;
  res.setHeader('Content-Type', 'application/problem+json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/** body-parser error types (express.json) → problems. */
function bodyParserProblem(err: { type?: string; status?: number; limit?: number; message?: string; code?: string }): Problem | undefined {
  if (err.type === undefined && err.status === 400 && typeof err.code === 'string' && /^(Z_|ERR__ERROR)/.test(err.code)) {
    // zlib/brotli could not inflate the body: the Content-Encoding does not match the bytes.
    return {
      status: 400,
      title: 'Malformed body encoding',
      detail: 'the request body could not be decompressed as its Content-Encoding says; send it uncompressed or correctly encoded',
      errors: [{ path: 'headers.content-encoding', message: 'must match how the body is encoded (gzip, deflate, br or identity)' }],
    };
  }
  switch (err.type) {
    case 'entity.too.large':
      return {
        status: 413,
        title: 'Payload too large',
        detail: `the request body exceeds ${err.limit ?? 'the configured'} bytes (server.bodyLimitBytes); send less`,
      };
    case 'entity.parse.failed':
      return {
        status: 400,
        title: 'Malformed JSON',
        detail: `the request body is not valid JSON: ${String(err.message).slice(0, 200)}`,
        errors: [{ path: 'body', message: 'must be valid JSON' }],
      };
    case 'encoding.unsupported':
      return {
        status: 415,
        title: 'Unsupported media type',
        detail: 'the Content-Encoding is not supported; send the body uncompressed, or as gzip, deflate or br',
        errors: [{ path: 'headers.content-encoding', message: 'must be one of identity, gzip, deflate, br' }],
      };
    case 'charset.unsupported':
      return { status: 415, title: 'Unsupported media type', detail: 'send the body as UTF-8 JSON (Content-Type: application/json)' };
    case 'request.aborted':
      return { status: 400, title: 'Request aborted', detail: 'the client closed the connection before the body arrived' };
    default:
      return undefined;
  }
}

/** Maps every error to problem+json; logs 5xx (with the stack, server side only). */
export function problemMiddleware(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    answerError(err, req, res, logger);
  };
}

/**
 * Answers `err` as problem+json (the one mapping, for express and for the reads served
 * before it); logs 5xx but 503 (with the stack, server side only).
 */
export function answerError(err: unknown, req: IncomingMessage, res: ServerResponse, logger: Logger): void {
  let problem: Problem;
  if (err instanceof GatewayError) {
    problem = { status: err.status, title: err.title, detail: err.message };
    if (err instanceof InputError && err.errors.length > 0) problem.errors = err.errors;
    if (err instanceof UpstreamError) {
      problem.backend = err.backend;
      problem.reason = err.reason;
      if (err.upstreamStatus !== undefined) problem.upstreamStatus = err.upstreamStatus;
    }
    const retryAfter =
      err instanceof RateLimitError ? err.retryAfterSeconds : err instanceof UnavailableError ? err.retryAfterSeconds : undefined;
    if (retryAfter !== undefined) res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfter))));
  } else if (err instanceof URIError && (err as { status?: number }).status === 400) {
    // The router could not percent-decode a path parameter (e.g. %C3%28, invalid UTF-8).
    problem = {
      status: 400,
      title: 'Malformed URL',
      detail: 'a path parameter is not valid percent-encoded UTF-8; encode ids with encodeURIComponent',
      errors: [{ path: 'params', message: 'must be valid percent-encoded UTF-8' }],
    };
  } else {
    problem = bodyParserProblem(err as object) ?? redisProblem(err, res) ?? clientProblem(err) ?? {
      status: 500,
      title: 'Internal error',
      detail: 'the gateway failed to handle this request; the error was logged',
    };
  }
  // 503s are outages of a dependency that its own component already logs (once, not per request).
  if (problem.status >= 500 && problem.status !== 503) {
    logger.error('request failed', {
      method: req.method,
      path: (req.url ?? '').split('?')[0],
      status: problem.status,
      error: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err),
    });
  }
  sendProblem(res, problem);
}

/** A Redis outage, wherever it surfaced: 503 with Retry-After (src/redis/redis-errors.ts decides). */
function redisProblem(err: unknown, res: ServerResponse): Problem | undefined {
  const unavailable = asRedisUnavailable(err);
  if (!unavailable) return undefined;
  res.setHeader('Retry-After', String(unavailable.retryAfterSeconds ?? 1));
  return { status: 503, title: unavailable.title, detail: unavailable.message };
}

/**
 * Errors from the HTTP stack (body-parser, express, http-errors) that say the client is at
 * fault carry a 4xx `status` and `expose: true`; they stay 4xx, with their own message.
 */
function clientProblem(err: unknown): Problem | undefined {
  const e = err as { status?: unknown; statusCode?: unknown; expose?: unknown; message?: unknown };
  const status = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  if (status === undefined || status < 400 || status > 499 || e.expose !== true) return undefined;
  return { status, title: status === 415 ? 'Unsupported media type' : 'Invalid request', detail: String(e.message ?? 'the request was refused') };
}

export const notFoundHandler: RequestHandler = (req, res) => {
  sendProblem(res, {
    status: 404,
    title: 'Not found',
    detail: `no route for ${req.method} ${req.path}; see /openapi.json for the API`,
  });
};
