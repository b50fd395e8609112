/**
 * Deltacloud REST API (instances only): `/api` entry point, `/api/instances`,
 * `/api/instances/:id`; XML by default, JSON with `Accept: application/json` (or
 * `?format=json`); HTTP Basic auth. Sources: Apache Deltacloud site/content/instances.md
 * (XML examples), server/views/instances/show.xml.haml (element order, address `type`),
 * server/lib/deltacloud/models/instance.rb `to_hash` (JSON: `owner` instead of `owner_id`,
 * addresses as `{address, type}`), the instances collection's `JSON::dump(:instances => …)`,
 * and server/views/errors/common.xml.haml + 401.xml.haml (error documents).
 * States come from the openstack driver's `convert_instance_state` (see ScenarioWorld).
 */
import { timingSafeEqual } from 'node:crypto';
import type { SimContext } from './sim-context.js';
import type { SimServer } from './scenario-world.js';
import { header, xmlEscape, type Reply, type SimRequest } from './sim-http.js';

const API_VERSION = '1.1.3';

interface Negotiated {
  json: boolean;
  driver: string;
  provider: string | undefined;
}

function negotiate(ctx: SimContext, req: SimRequest): Negotiated {
  const format = req.query.get('format');
  const accept = header(req, 'accept') ?? '';
  const jsonWanted = format ? format === 'json' : /application\/json/i.test(accept) && !/application\/xml/i.test(accept.split(',')[0] ?? '');
  return {
    json: jsonWanted,
    driver: header(req, 'x-deltacloud-driver') ?? ctx.credentials.driver,
    provider: header(req, 'x-deltacloud-provider'),
  };
}

function withHeaders(reply: Reply, n: Negotiated): Reply {
  reply.headers = { ...reply.headers, 'X-Deltacloud-Driver': n.driver };
  if (n.provider) reply.headers['X-Deltacloud-Provider'] = n.provider;
  return reply;
}

const MESSAGES: Record<number, string> = {
  401: 'Authentication required',
  404: 'Not Found',
  405: 'Method Not Allowed',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Deltacloud's error document (XML; a JSON mirror of it when the client asked for JSON). */
export function deltacloudError(
  ctx: SimContext,
  req: SimRequest,
  status: number,
  message = MESSAGES[status] ?? 'Error',
  template = '*',
): Reply {
  const n = negotiate(ctx, req);
  const headers: Record<string, string> = {};
  if (status === 401) headers['WWW-Authenticate'] = 'Basic realm="Deltacloud API"';
  if (n.json) {
    const body: Record<string, unknown> = { url: req.rawUrl, status: String(status), message };
    if (status !== 401) {
      body.backend = { driver: n.driver, provider: n.provider ?? 'default' };
      body.code = status;
    }
    return withHeaders(
      { status, template, headers: { ...headers, 'Content-Type': 'application/json' }, body: JSON.stringify({ error: body }) },
      n,
    );
  }
  const xml =
    status === 401
      ? `<?xml version='1.0' encoding='utf-8' ?>\n<error status='401' url='${xmlEscape(req.rawUrl)}'>\n  <message>${message}</message>\n</error>\n`
      : `<?xml version='1.0' encoding='utf-8' ?>\n<error status='${status}' url='${xmlEscape(req.rawUrl)}'>\n` +
        `  <backend driver='${xmlEscape(n.driver)}' provider='${xmlEscape(n.provider ?? 'default')}'></backend>\n` +
        `  <code>${status}</code>\n  <message><![CDATA[${message}]]></message>\n</error>\n`;
  return withHeaders({ status, template, headers: { ...headers, 'Content-Type': 'application/xml' }, body: xml }, n);
}

function authorized(ctx: SimContext, req: SimRequest): boolean {
  const auth = header(req, 'authorization');
  if (!auth?.startsWith('Basic ')) return false;
  const given = Buffer.from(auth.slice(6).trim(), 'base64');
  const expected = Buffer.from(`${ctx.credentials.deltacloudUser}:${ctx.credentials.deltacloudPassword}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Rendered collections, reused while the world is unchanged (a 10,000-instance list is big). */
const cache = new WeakMap<SimContext, Map<string, { version: number; body: Buffer }>>();

/** Route template of a Deltacloud path (below `/deltacloud/api`), for accounting. */
export function deltacloudTemplate(path: string): string {
  const segments = path.split('/').filter(Boolean);
  if (segments.length === 0) return '/api';
  if (segments[0] !== 'instances' || segments.length > 2) return '*';
  return segments.length === 1 ? '/api/instances' : '/api/instances/:id';
}

export async function handleDeltacloud(ctx: SimContext, req: SimRequest): Promise<Reply> {
  const segments = req.path.split('/').filter(Boolean).map(decodeURIComponent);
  const template = deltacloudTemplate(req.path);
  const n = negotiate(ctx, req);
  if (req.method !== 'GET') return deltacloudError(ctx, req, 405, undefined, template);
  if (segments.length === 0) return withHeaders(entryPoint(ctx, req, n), n);
  if (!authorized(ctx, req)) return deltacloudError(ctx, req, 401, undefined, template);
  const base = `${req.origin}/deltacloud/api`;
  if (segments[0] !== 'instances' || segments.length > 2) return deltacloudError(ctx, req, 404, undefined, template);
  if (segments.length === 1) {
    const key = `${n.json ? 'json' : 'xml'} ${base}`;
    let perCtx = cache.get(ctx);
    if (!perCtx) cache.set(ctx, (perCtx = new Map()));
    let hit = perCtx.get(key);
    if (!hit || hit.version !== ctx.world.version) {
      const servers = ctx.world.liveServers();
      const body = n.json
        ? JSON.stringify({ instances: servers.map((s) => instanceJson(ctx, s, base)) })
        : `<?xml version='1.0' encoding='utf-8' ?>\n<instances>\n${servers.map((s) => instanceXml(ctx, s, base, '  ')).join('')}</instances>\n`;
      hit = { version: ctx.world.version, body: Buffer.from(body) };
      perCtx.set(key, hit);
    }
    return withHeaders(
      { status: 200, template, headers: { 'Content-Type': n.json ? 'application/json' : 'application/xml' }, body: hit.body },
      n,
    );
  }
  const server = ctx.world.servers.get(segments[1] ?? '');
  if (!server || server.novaStatus === 'DELETED') {
    return deltacloudError(ctx, req, 404, `Instance '${segments[1] ?? ''}' not found`, template);
  }
  const body = n.json
    ? JSON.stringify({ instance: instanceJson(ctx, server, base) })
    : `<?xml version='1.0' encoding='utf-8' ?>\n${instanceXml(ctx, server, base, '')}`;
  return withHeaders(
    { status: 200, template, headers: { 'Content-Type': n.json ? 'application/json' : 'application/xml' }, body },
    n,
  );
}

function entryPoint(ctx: SimContext, req: SimRequest, n: Negotiated): Reply {
  const base = `${req.origin}/deltacloud/api`;
  const links = [
    { rel: 'instances', features: ['user_name', 'authentication_password'] },
    { rel: 'instance_states', features: [] },
    { rel: 'hardware_profiles', features: [] },
    { rel: 'images', features: [] },
    { rel: 'realms', features: [] },
  ];
  if (n.json) {
    return {
      status: 200,
      template: '/api',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        api: {
          version: API_VERSION,
          driver: n.driver,
          provider: n.provider ?? 'default',
          links: links.map((l) => ({ href: `${base}/${l.rel}`, rel: l.rel, features: l.features.map((f) => ({ name: f, rel: 'create' })) })),
        },
      }),
    };
  }
  const xml =
    `<?xml version='1.0' encoding='utf-8' ?>\n<api driver='${xmlEscape(n.driver)}' provider='${xmlEscape(n.provider ?? 'default')}' version='${API_VERSION}'>\n` +
    links
      .map(
        (l) =>
          `  <link href='${base}/${l.rel}' rel='${l.rel}'>\n` +
          l.features.map((f) => `    <feature name='${f}' rel='create'></feature>\n`).join('') +
          `  </link>\n`,
      )
      .join('') +
    `</api>\n`;
  void ctx;
  return { status: 200, template: '/api', headers: { 'Content-Type': 'application/xml' }, body: xml };
}

function actionsFor(state: string | null): string[] {
  // Openstack driver state machine: running → reboot/stop; stopped/error → destroy.
  if (state === 'RUNNING') return ['reboot', 'stop'];
  if (state === 'PENDING') return ['stop'];
  return ['destroy'];
}

/** Public addresses are the floating IPs, private ones the fixed IPs. */
function addresses(server: SimServer): { public: string[]; private: string[] } {
  return server.networked ? { public: [server.floatingIp], private: [server.fixedIp] } : { public: [], private: [] };
}

function instanceXml(ctx: SimContext, server: SimServer, base: string, indent: string): string {
  const state = ctx.world.deltacloudState(server.novaStatus) ?? 'STOPPED';
  const href = `${base}/instances/${server.id}`;
  const addr = addresses(server);
  const i = indent;
  const actions = actionsFor(state)
    .map((a) => `${i}    <link href='${href}/${a}' method='post' rel='${a}' />\n`)
    .join('');
  return (
    `${i}<instance href='${href}' id='${server.id}'>\n` +
    `${i}  <name>${xmlEscape(server.name)}</name>\n` +
    `${i}  <owner_id>${xmlEscape(ctx.credentials.username)}</owner_id>\n` +
    `${i}  <image href='${base}/images/70a599e0-31e7-49b7-b260-868f441e862b' id='70a599e0-31e7-49b7-b260-868f441e862b'></image>\n` +
    `${i}  <realm href='${base}/realms/default' id='default'></realm>\n` +
    `${i}  <state>${state}</state>\n` +
    `${i}  <hardware_profile href='${base}/hardware_profiles/2' id='2'>\n${i}  </hardware_profile>\n` +
    `${i}  <actions>\n${actions}${i}  </actions>\n` +
    `${i}  <launch_time>${new Date(server.createdAtMs).toISOString()}</launch_time>\n` +
    `${i}  <public_addresses>${addr.public.map((a) => `<address type='ipv4'>${a}</address>`).join('')}</public_addresses>\n` +
    `${i}  <private_addresses>${addr.private.map((a) => `<address type='ipv4'>${a}</address>`).join('')}</private_addresses>\n` +
    `${i}  <authentication type='password'>\n${i}    <login>\n${i}      <username>root</username>\n${i}      <password></password>\n${i}    </login>\n${i}  </authentication>\n` +
    `${i}</instance>\n`
  );
}

function instanceJson(ctx: SimContext, server: SimServer, base: string): Record<string, unknown> {
  const state = ctx.world.deltacloudState(server.novaStatus) ?? 'STOPPED';
  const href = `${base}/instances/${server.id}`;
  const addr = addresses(server);
  return {
    id: server.id,
    href,
    name: server.name,
    state,
    owner: ctx.credentials.username,
    image: { href: `${base}/images/70a599e0-31e7-49b7-b260-868f441e862b`, id: '70a599e0-31e7-49b7-b260-868f441e862b', rel: 'image' },
    realm: { href: `${base}/realms/default`, id: 'default', rel: 'realm' },
    actions: actionsFor(state).map((a) => ({ href: `${href}/${a}`, rel: a, method: 'post' })),
    instance_profile: { id: '2', href: `${base}/hardware_profiles/2`, rel: 'hardware_profile', properties: {} },
    public_addresses: addr.public.map((a) => ({ address: a, type: 'ipv4' })),
    private_addresses: addr.private.map((a) => ({ address: a, type: 'ipv4' })),
    launch_time: new Date(server.createdAtMs).toISOString(),
    authentication: { user: 'root', password: '' },
  };
}
