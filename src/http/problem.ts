/**
 * RFC 9457 problem+json: the one error middleware, the 404 handler, and the helper every
 * route uses to answer a problem. Never a stack trace, never an HTML page.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { GatewayError, InputError, RateLimitError, UnavailableError, UpstreamError, type FieldProblem } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { isRedisUnavailableError } from '../redis/redis-errors.js';

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

export function sendProblem(res: Response, problem: Problem): void {
  const type = problem.type ?? `${PROBLEM_TYPE_BASE}${problem.title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  res.status(problem.status).type('application/problem+json').send(JSON.stringify({ ...problem, type }));
}

/** body-parser error types (express.json) → problems. */
function bodyParserProblem(err: { type?: string; status?: number; limit?: number; message?: string }): Problem | undefined {
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
    // Redis away or failing over: the request may succeed in a moment, so 503, not 500.
    if (isRedisUnavailableError(err)) err = new UnavailableError('the cache (Redis) is not reachable right now; retry shortly', { cause: err, retryAfterSeconds: 1 });
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
      problem = bodyParserProblem(err as object) ?? {
        status: 500,
        title: 'Internal error',
        detail: 'the gateway failed to handle this request; the error was logged',
      };
    }
    if (problem.status >= 500) {
      logger.error('request failed', {
        method: req.method,
        path: req.path,
        status: problem.status,
        error: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err),
      });
    }
    sendProblem(res, problem);
  };
}

export const notFoundHandler: RequestHandler = (req, res) => {
  sendProblem(res, {
    status: 404,
    title: 'Not found',
    detail: `no route for ${req.method} ${req.path}; see /openapi.json for the API`,
  });
};
