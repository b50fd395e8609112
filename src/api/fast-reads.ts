/**
 * The hottest reads — `GET /v1/instances/:id` and `GET /v1/instances?limit&cursor` — served
 * straight from node's HTTP server, before express. Express costs several times what the
 * read itself does once the read cache answers from memory, and Conductor polls exactly
 * these two.
 *
 * Only what is certainly a plain, authorized read of those routes is taken: the route's
 * exact path, a valid id and query, a token whose role may read, and no per-token rate
 * limit (that needs Redis anyway). Anything else — another route, HEAD, a trailing slash, a
 * bad token, a body, an id or query the route's zod schema would refuse — is left untouched to
 * express, which answers it as always (401, 403, 400 naming the field, …). A taken read
 * runs the very function its express route runs and maps errors with the same
 * {@link answerError}, so both paths answer alike; test/integration/api/fast-reads.test.ts
 * compares them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import type { Config } from '../config/schema.js';
import { Authenticator } from '../http/auth.js';
import { answerError } from '../http/problem.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { MAX_PAGE } from '../store/cache-reader.js';
import { isValidId } from './api-schemas.js';

const ONE_PREFIX = '/v1/instances/';
const LIST_PATH = '/v1/instances';
/** The route templates, as the express metrics middleware labels them. */
const ONE_ROUTE = '/v1/instances/:id';
const LIST_ROUTE = '/v1/instances';
/** What `limit` may look like here; other spellings (`0100`, `1e2`) go to express's zod. */
const LIMIT_PATTERN = /^[1-9][0-9]{0,3}$/;

export interface FastReadsDeps {
  auth: Authenticator;
  config: () => Config;
  metrics: Metrics;
  logger: Logger;
}

/** The reads, exactly as the express routes run them. */
export interface InstanceReads {
  instance(req: IncomingMessage, res: ServerResponse, id: string): Promise<void>;
  instances(req: IncomingMessage, res: ServerResponse, page: { limit: number; cursor?: string }): Promise<void>;
}

type Taken = { route: typeof ONE_ROUTE; id: string } | { route: typeof LIST_ROUTE; limit: number; cursor: string | undefined };

export class FastReads {
  constructor(
    private readonly deps: FastReadsDeps,
    private readonly reads: InstanceReads,
  ) {}

  /** Answers the request (true) or leaves it, untouched, to express (false). */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    // A GET with a body is refused by the express route (it takes none): left to it.
    if (req.method !== 'GET' || req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) return false;
    const read = this.take(req);
    if (!read) return false;
    const startedAt = performance.now();
    const done =
      read.route === ONE_ROUTE
        ? this.reads.instance(req, res, read.id)
        : this.reads.instances(req, res, read.cursor === undefined ? { limit: read.limit } : { limit: read.limit, cursor: read.cursor });
    done
      .catch((err: unknown) => {
        if (!res.headersSent) answerError(err, req, res, this.deps.logger);
        else res.destroy(err as Error);
      })
      .finally(() => this.deps.metrics.httpDuration.observe({ route: read.route, method: 'GET', status: String(res.statusCode) }, (performance.now() - startedAt) / 1_000));
    return true;
  }

  /** The read this request certainly is, or undefined. */
  private take(req: IncomingMessage): Taken | undefined {
    const url = req.url ?? '';
    const queryAt = url.indexOf('?');
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    let read: Taken | undefined;
    if (path.startsWith(ONE_PREFIX) && queryAt < 0) {
      const id = decodedSegment(path.slice(ONE_PREFIX.length));
      if (id !== undefined && isValidId(id)) read = { route: ONE_ROUTE, id };
    } else if (path === LIST_PATH) {
      read = listQuery(queryAt < 0 ? '' : url.slice(queryAt + 1));
    }
    if (!read) return undefined;
    if (this.deps.config().auth.rateLimit) return undefined;
    const principal = this.deps.auth.fromRequest(req);
    if (!principal || !Authenticator.allows(principal, ['client'])) return undefined;
    return read;
  }
}

/** One path segment, percent-decoded as the router decodes `:id`, or undefined. */
function decodedSegment(raw: string): string | undefined {
  if (raw === '' || raw.includes('/')) return undefined;
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined; // express answers the 400 for bad percent-encoding
  }
}

/** `limit` and/or `cursor`, each once and valid, and nothing else; else undefined. */
function listQuery(query: string): Taken | undefined {
  const params = parseQuery(query);
  let limit = 100;
  let cursor: string | undefined;
  for (const [name, value] of Object.entries(params)) {
    if (typeof value !== 'string') return undefined;
    if (name === 'limit' && LIMIT_PATTERN.test(value) && Number(value) <= MAX_PAGE) limit = Number(value);
    else if (name === 'cursor' && isValidId(value)) cursor = value;
    else return undefined;
  }
  return { route: LIST_ROUTE, limit, cursor };
}
