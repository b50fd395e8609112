/**
 * Heat orchestration API v1 (read side): stacks list/show/lookup, resources (with
 * `nested_depth` and `with_detail`, server resources carrying the live Nova server in
 * `attributes`), resource show and events. Formats follow the Orchestration API v1
 * reference (docs.openstack.org/api-ref/orchestration/v1) and Heat's own views
 * (heat/api/openstack/v1/views/*, heat/engine/api.py); errors follow Heat's FaultWrapper
 * JSON (`explanation`, `code`, `error: {message, traceback, type}`, `title`).
 */
import type { SimContext } from './sim-context.js';
import type { SimEvent, SimServer, SimStack } from './scenario-world.js';
import { checkToken, tokenRejected } from './keystone-api.js';
import { isoSeconds, json, type Reply, type SimRequest } from './sim-http.js';
import { novaServer } from './nova-views.js';

const EXPLANATIONS: Record<number, [string, string]> = {
  400: ['Bad Request', 'The server could not comply with the request since it is either malformed or otherwise incorrect.'],
  403: ['Forbidden', 'Access was denied to this resource.'],
  404: ['Not Found', 'The resource could not be found.'],
  500: ['Internal Server Error', 'The server has either erred or is incapable of performing the requested operation.'],
  503: ['Service Unavailable', 'The server is currently unavailable. Please try again at a later time.'],
};

/** Heat's error document (heat/api/middleware/fault.py). */
export function heatError(status: number, message: string, type: string, template = '*'): Reply {
  const [title, explanation] = EXPLANATIONS[status] ?? ['Error', 'Error'];
  return json(status, { explanation, code: status, error: { message, traceback: null, type }, title }, template);
}

function stackNotFound(identity: string, template: string): Reply {
  return heatError(404, `The Stack (${identity}) could not be found.`, 'EntityNotFound', template);
}

function intParam(req: SimRequest, name: string): number | undefined | Error {
  const raw = req.query.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^-?\d+$/.test(raw)) return new Error(`Only integer is acceptable by '${name}'.`);
  const n = Number(raw);
  if (n < 0) return new Error(`Value must be >= 0 for field '${name}'.`);
  return n;
}

function boolParam(req: SimRequest, name: string): boolean | Error {
  const raw = req.query.get(name);
  if (raw === null || raw === '') return false;
  const v = raw.toLowerCase();
  if (['true', '1', 'yes', 'y', 't', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'n', 'f', 'off'].includes(v)) return false;
  return new Error(`Unrecognized value '${raw}' for '${name}', acceptable values are: true, false`);
}

export async function handleHeat(ctx: SimContext, req: SimRequest): Promise<Reply> {
  const segments = req.path.split('/').filter(Boolean).map(decodeURIComponent);
  const [tenant, collection, ...rest] = segments;
  const template = heatTemplate(req.path);
  // keystonemiddleware runs before any routing.
  if (!checkToken(ctx, req)) return tokenRejected(template);
  if (tenant !== ctx.credentials.projectId) {
    return heatError(403, 'Tenant mismatch: the URL names a different project than the token.', 'Forbidden', template);
  }
  if (collection !== 'stacks' || req.method !== 'GET') {
    return heatError(404, 'The resource could not be found.', 'HTTPNotFound', template);
  }
  const base = `${req.origin}/orchestration/v1/${tenant}`;
  if (rest.length === 0) return listStacks(ctx, req, base);

  const [first, second, third, fourth, ...more] = rest;
  const byId = second !== undefined ? ctx.world.stacks.get(second) : undefined;
  if (first !== undefined && (second === undefined || (!byId && (second === 'resources' || second === 'events')))) {
    return lookup(ctx, req, base, first, rest.slice(1), template);
  }
  if (first === undefined || second === undefined) return stackNotFound(String(first), template);
  const stack = byId;
  if (!stack || stack.name !== first) return stackNotFound(`${first}/${second}`, template);
  const stackUrl = `${base}/stacks/${encodeURIComponent(stack.name)}/${stack.id}`;

  if (third === undefined) return json(200, { stack: stackDetail(ctx, stack, stackUrl) }, template);
  if (third === 'resources' && fourth === undefined) return listResources(ctx, req, stack, stackUrl, template);
  if (third === 'resources' && fourth !== undefined && more.length === 0) {
    const server = findResource(ctx, stack, fourth);
    if (!server) {
      return heatError(404, `The Resource (${fourth}) could not be found.`, 'ResourceNotFound', template);
    }
    return json(200, { resource: resourceView(ctx, server, stackUrl, true, req.origin) }, template);
  }
  if (third === 'events' && fourth === undefined) return listEvents(ctx, req, stack, stackUrl, template);
  return heatError(404, 'The resource could not be found.', 'HTTPNotFound', template);
}

/** Route template of a Heat path (below `/orchestration/v1`), for accounting. */
export function heatTemplate(path: string): string {
  const [, collection, ...rest] = path.split('/').filter(Boolean);
  if (collection !== 'stacks') return '*';
  const [, second, third, fourth, fifth] = rest;
  if (rest.length === 0) return '/stacks';
  if (rest.length === 1) return '/stacks/:stack_identity';
  if (rest.length === 2 && (second === 'resources' || second === 'events')) return `/stacks/:stack_name/${second}`;
  if (rest.length === 2) return '/stacks/:name/:id';
  if (third === 'resources' && fourth === undefined) return '/stacks/:name/:id/resources';
  if (third === 'resources' && fifth === undefined) return '/stacks/:name/:id/resources/:resource';
  if (third === 'events' && fourth === undefined) return '/stacks/:name/:id/events';
  return '*';
}

/** Heat answers a stack named by name or id alone with 302 to its canonical URL. */
function lookup(ctx: SimContext, req: SimRequest, base: string, identity: string, suffix: string[], template: string): Reply {
  let stack = ctx.world.stacks.get(identity);
  if (!stack || stack.deletedAtMs !== null) {
    stack = ctx.world.liveStacks().find((s) => s.name === identity);
  }
  if (!stack) return stackNotFound(identity, template);
  const query = req.query.toString();
  const location =
    `${base}/stacks/${encodeURIComponent(stack.name)}/${stack.id}` +
    (suffix.length ? `/${suffix.map(encodeURIComponent).join('/')}` : '') +
    (query ? `?${query}` : '');
  return {
    status: 302,
    template,
    headers: { Location: location, 'Content-Type': 'text/plain; charset=UTF-8' },
    body: `302 Found\n\nThe resource was found at ${location}; you should be redirected automatically.  `,
  };
}

function listStacks(ctx: SimContext, req: SimRequest, base: string): Reply {
  const template = '/stacks';
  const limit = intParam(req, 'limit');
  if (limit instanceof Error) return heatError(400, limit.message, 'ValueError', template);
  const sortDir = req.query.get('sort_dir') ?? 'desc';
  if (sortDir !== 'asc' && sortDir !== 'desc') {
    return heatError(400, `Unknown sort direction, must be one of: asc, desc`, 'Invalid', template);
  }
  // Heat sorts stacks by created_at, newest first unless told otherwise.
  let stacks = ctx.world.liveStacks();
  if (sortDir === 'desc') stacks = stacks.slice().reverse();
  const marker = req.query.get('marker');
  if (marker) {
    // Heat looks the marker up by id and, when it is unknown, pages from the start.
    const index = stacks.findIndex((s) => s.id === marker);
    if (index >= 0) stacks = stacks.slice(index + 1);
  }
  if (limit !== undefined) stacks = stacks.slice(0, limit);
  const items = stacks.map((s) => stackSummary(s, `${base}/stacks/${encodeURIComponent(s.name)}/${s.id}`));
  const out: Record<string, unknown> = { stacks: items };
  // heat/api/openstack/v1/views/views_common.get_collection_links: a next link when the page is full.
  const last = stacks[stacks.length - 1];
  if (limit !== undefined && limit > 0 && stacks.length === limit && last) {
    const params = new URLSearchParams(req.query);
    params.set('marker', last.id);
    out.links = [{ href: `${base}/stacks?${params.toString()}`, rel: 'next' }];
  }
  return json(200, out, template);
}

function stackStatus(stack: SimStack): string {
  return `${stack.action}_${stack.status}`;
}

function stackSummary(stack: SimStack, stackUrl: string): Record<string, unknown> {
  return {
    creation_time: isoSeconds(stack.createdAtMs),
    deletion_time: stack.deletedAtMs === null ? null : isoSeconds(stack.deletedAtMs),
    description: 'Aeolus deployment (heat-gateway simulator)',
    id: stack.id,
    links: [{ href: stackUrl, rel: 'self' }],
    parent: null,
    stack_name: stack.name,
    stack_owner: null,
    stack_status: stackStatus(stack),
    stack_status_reason: stack.statusReason,
    stack_user_project_id: stack.id.replace(/-/g, '').slice(0, 32),
    tags: null,
    updated_time: stack.updatedAtMs === null ? null : isoSeconds(stack.updatedAtMs),
  };
}

function stackDetail(ctx: SimContext, stack: SimStack, stackUrl: string): Record<string, unknown> {
  const ips: Record<string, string> = {};
  for (const id of stack.serverIds) {
    const server = ctx.world.servers.get(id);
    if (server?.networked) ips[server.resourceName] = server.floatingIp;
  }
  return {
    ...stackSummary(stack, stackUrl),
    capabilities: [],
    disable_rollback: true,
    notification_topics: [],
    outputs: [
      { description: 'Floating IP of each server', output_key: 'server_public_ips', output_value: ips },
      { description: 'Number of servers', output_key: 'server_count', output_value: stack.serverIds.length },
    ],
    parameters: {
      'OS::project_id': ctx.credentials.projectId,
      'OS::stack_id': stack.id,
      'OS::stack_name': stack.name,
      server_count: String(stack.serverIds.length),
    },
    template_description: 'Aeolus deployment (heat-gateway simulator)',
    timeout_mins: null,
  };
}

function findResource(ctx: SimContext, stack: SimStack, name: string): SimServer | undefined {
  if (stack.deletedAtMs !== null) return undefined;
  for (const id of stack.serverIds) {
    const server = ctx.world.servers.get(id);
    if (server?.resourceName === name) return server;
  }
  return undefined;
}

function listResources(ctx: SimContext, req: SimRequest, stack: SimStack, stackUrl: string, template: string): Reply {
  const depth = intParam(req, 'nested_depth');
  if (depth instanceof Error) return heatError(400, depth.message, 'ValueError', template);
  const withDetail = boolParam(req, 'with_detail');
  if (withDetail instanceof Error) return heatError(400, withDetail.message, 'ValueError', template);
  const resources: Record<string, unknown>[] = [];
  // Deleted stacks keep no resources (Heat deletes their rows).
  if (stack.deletedAtMs === null) {
    for (const id of stack.serverIds) {
      const server = ctx.world.servers.get(id);
      if (server) resources.push(resourceView(ctx, server, stackUrl, withDetail, req.origin));
    }
  }
  const reply = json(200, { resources }, template);
  // Resolving server attributes costs Heat one Nova call per server.
  reply.work = withDetail ? Math.max(1, resources.length) : 1;
  return reply;
}

function resourceView(
  ctx: SimContext,
  server: SimServer,
  stackUrl: string,
  detail: boolean,
  origin: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    creation_time: isoSeconds(server.createdAtMs),
    links: [
      { href: `${stackUrl}/resources/${server.resourceName}`, rel: 'self' },
      { href: stackUrl, rel: 'stack' },
    ],
    logical_resource_id: server.resourceName,
    physical_resource_id: server.id,
    required_by: [],
    resource_name: server.resourceName,
    resource_status: `${server.resourceAction}_${server.resourceStatus}`,
    resource_status_reason: server.resourceStatusReason,
    resource_type: 'OS::Nova::Server',
    updated_time: isoSeconds(server.resourceUpdatedAtMs),
  };
  if (detail) {
    const show = novaServer(ctx, server, origin);
    const networks: Record<string, string[]> = {};
    const addresses = show.addresses as Record<string, { addr: string }[]>;
    for (const [net, list] of Object.entries(addresses)) networks[net] = list.map((a) => a.addr);
    out.description = '';
    out.metadata = {};
    out.attributes = {
      accessIPv4: '',
      accessIPv6: '',
      addresses,
      console_urls: {},
      instance_name: `instance-${server.id.slice(0, 8)}`,
      name: server.name,
      networks,
      show,
    };
  }
  return out;
}

function listEvents(ctx: SimContext, req: SimRequest, stack: SimStack, stackUrl: string, template: string): Reply {
  const limit = intParam(req, 'limit');
  if (limit instanceof Error) return heatError(400, limit.message, 'ValueError', template);
  const sortDir = req.query.get('sort_dir') ?? 'desc';
  if (sortDir !== 'asc' && sortDir !== 'desc') {
    return heatError(400, `Unknown sort direction, must be one of: asc, desc`, 'Invalid', template);
  }
  // Heat's default event order is created_at descending (db api _events_paginate_query).
  let events: SimEvent[] = sortDir === 'asc' ? stack.events.slice() : stack.events.slice().reverse();
  const marker = req.query.get('marker');
  if (marker) {
    const index = events.findIndex((e) => e.id === marker);
    if (index >= 0) events = events.slice(index + 1);
    else if (ctx.eventMarkerNotFound === 'not-found') {
      return heatError(404, `The Event (${marker}) could not be found.`, 'EntityNotFound', template);
    }
  }
  if (limit !== undefined) events = events.slice(0, limit);
  return json(200, { events: events.map((e) => eventView(e, stackUrl)) }, template);
}

function eventView(event: SimEvent, stackUrl: string): Record<string, unknown> {
  const resourceUrl = `${stackUrl}/resources/${encodeURIComponent(event.resourceName)}`;
  return {
    event_time: isoSeconds(event.atMs),
    id: event.id,
    links: [
      { href: `${resourceUrl}/events/${event.id}`, rel: 'self' },
      { href: resourceUrl, rel: 'resource' },
      { href: stackUrl, rel: 'stack' },
    ],
    logical_resource_id: event.resourceName,
    physical_resource_id: event.physicalResourceId,
    resource_name: event.resourceName,
    resource_status: `${event.action}_${event.status}`,
    resource_status_reason: event.reason,
    resource_type: event.resourceType,
  };
}
