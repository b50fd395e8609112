/**
 * Routes declared once: method, path, roles, and zod schemas for params, query, body and
 * responses. The same declaration validates every request and generates `/openapi.json`, so
 * the document cannot drift from what the gateway accepts.
 */
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import { z } from 'zod';
import type { Role } from '../config/schema.js';
import { InputError, type FieldProblem } from '../errors.js';
import type { Authenticator, Principal } from './auth.js';

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** @defaultValue application/json (application/problem+json for status >= 400) */
  contentType?: string;
}

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express path, e.g. `/v1/instances/:id`. */
  path: string;
  summary: string;
  description?: string;
  tag: string;
  /** Roles allowed; `public` needs no token. */
  auth: Role[] | 'public';
  params?: P;
  query?: Q;
  body?: B;
  responses: Record<number, ResponseSpec>;
  handler: (input: { params: z.output<P>; query: z.output<Q>; body: z.output<B>; principal: Principal | undefined; req: Request; res: Response }) => unknown;
}

type AnyRoute = RouteSpec<z.ZodType, z.ZodType, z.ZodType>;

/** A route mounted outside this router (e.g. `/healthz`), declared for the OpenAPI document only. */
export type DocumentedRoute = Omit<AnyRoute, 'handler'>;

/** Object schemas reject unknown keys; wrong types name the field. */
function validate<T extends z.ZodType>(schema: T | undefined, value: unknown, where: 'params' | 'query' | 'body'): z.output<T> {
  if (!schema && where === 'body') {
    // A route without a body schema ignores no input silently: anything but nothing or `{}` is refused.
    const empty = value === undefined || (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0);
    if (!empty) throw new InputError('this route takes no request body', [{ path: 'body', message: 'must be empty; remove the body' }]);
    return undefined as z.output<T>;
  }
  if (!schema) {
    if (where === 'query' && value && typeof value === 'object' && Object.keys(value).length > 0) {
      const key = Object.keys(value)[0]!;
      throw new InputError(`unknown query parameter '${key}'`, [{ path: `query.${key}`, message: 'this route takes no query parameters' }]);
    }
    return undefined as z.output<T>;
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors: FieldProblem[] = result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return { path: [where, ...issue.path, issue.keys[0]].join('.'), message: `is not a known ${where === 'query' ? 'query parameter' : 'field'} (${issue.keys.join(', ')}); remove it` };
    }
    return { path: [where, ...issue.path.map(String)].join('.') || where, message: issue.message };
  });
  throw new InputError(`invalid ${where}: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`, errors);
}

/** Express `:id` → OpenAPI `{id}`. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

export class ApiRouter {
  private readonly routes: AnyRoute[] = [];
  private readonly external: DocumentedRoute[] = [];
  private readonly authenticated: RequestHandler[] = [];

  constructor(private readonly auth: Authenticator) {}

  /**
   * Runs `handler` on every authenticated route, after the token was accepted
   * (`req.principal` is set), before input validation. Used for the per-token rate limit.
   */
  afterAuth(handler: RequestHandler): this {
    this.authenticated.push(handler);
    return this;
  }

  /** Documents a route that is mounted elsewhere, so `/openapi.json` still lists it. */
  document(spec: DocumentedRoute): this {
    this.external.push(spec);
    return this;
  }

  /** Every route in the OpenAPI document: the declared ones and the documented-only ones. */
  get documented(): readonly Pick<AnyRoute, 'method' | 'path' | 'auth'>[] {
    return [...this.routes, ...this.external];
  }

  route<P extends z.ZodType = z.ZodUndefined, Q extends z.ZodType = z.ZodUndefined, B extends z.ZodType = z.ZodUndefined>(
    spec: RouteSpec<P, Q, B>,
  ): this {
    this.routes.push(spec as unknown as AnyRoute);
    return this;
  }

  /** Every declared route, for the OpenAPI document and tests. */
  get declared(): readonly Pick<AnyRoute, 'method' | 'path' | 'auth'>[] {
    return this.routes;
  }

  /** An express router serving every declared route. */
  router(): Router {
    const router = express.Router();
    for (const spec of this.routes) {
      const handlers: RequestHandler[] = [];
      if (spec.auth !== 'public') handlers.push(this.auth.require(...spec.auth), ...this.authenticated);
      handlers.push(async (req, res) => {
        const params = validate(spec.params, req.params, 'params');
        const query = validate(spec.query, { ...(req.query as object) }, 'query');
        const body = validate(spec.body, req.body, 'body');
        await spec.handler({ params, query, body, principal: req.principal, req, res });
      });
      router[spec.method](spec.path, ...handlers);
    }
    return router;
  }

  /** The OpenAPI 3.1 document, generated from the route declarations. */
  openapi(info: { title: string; version: string; description?: string }): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    const schema = (s: z.ZodType, io: 'input' | 'output') => {
      const { $schema: _ignored, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<string, unknown>;
      return rest;
    };
    for (const spec of [...this.routes, ...this.external] as DocumentedRoute[]) {
      const parameters: unknown[] = [];
      for (const [where, s] of [['path', spec.params], ['query', spec.query]] as const) {
        if (!s) continue;
        const json = schema(s, 'input') as { properties?: Record<string, { description?: string }>; required?: string[] };
        for (const [name, prop] of Object.entries(json.properties ?? {})) {
          parameters.push({
            name,
            in: where,
            required: where === 'path' || (json.required ?? []).includes(name),
            ...(prop.description ? { description: prop.description } : {}),
            schema: prop,
          });
        }
      }
      const responses: Record<string, unknown> = {};
      for (const [status, r] of Object.entries(spec.responses)) {
        const contentType = r.contentType ?? (Number(status) >= 400 ? 'application/problem+json' : 'application/json');
        responses[status] = {
          description: r.description,
          ...(r.schema || Number(status) >= 400
            ? { content: { [contentType]: { schema: r.schema ? schema(r.schema, 'output') : { $ref: '#/components/schemas/Problem' } } } }
            : {}),
        };
      }
      for (const [status, description] of [
        ['400', 'Invalid input (problem+json naming each field)'],
        ...(spec.auth === 'public' ? [] : [['401', 'Missing or invalid bearer token'], ['403', 'The token\'s role may not do this']]),
      ] as const) {
        responses[status] ??= { description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
      }
      const path = (paths[openApiPath(spec.path)] ??= {});
      path[spec.method] = {
        operationId: `${spec.method}${spec.path.replace(/[:/{}-](\w)/g, (_, c: string) => c.toUpperCase()).replace(/\W/g, '')}`,
        summary: spec.summary,
        ...(spec.description ? { description: spec.description } : {}),
        tags: [spec.tag],
        ...(spec.auth === 'public' ? { security: [] } : { 'x-roles': spec.auth }),
        ...(parameters.length ? { parameters } : {}),
        ...(spec.body ? { requestBody: { required: true, content: { 'application/json': { schema: schema(spec.body, 'input') } } } } : {}),
        responses,
      };
    }
    return {
      openapi: '3.1.0',
      info,
      servers: [{ url: '/' }],
      security: [{ bearer: [] }],
      paths,
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
        schemas: {
          Problem: {
            type: 'object',
            description: 'RFC 9457 problem details',
            required: ['type', 'title', 'status', 'detail'],
            properties: {
              type: { type: 'string' },
              title: { type: 'string' },
              status: { type: 'integer' },
              detail: { type: 'string' },
              errors: {
                type: 'array',
                items: { type: 'object', required: ['path', 'message'], properties: { path: { type: 'string' }, message: { type: 'string' } } },
              },
            },
          },
        },
      },
    };
  }
}
