/**
 * Keystone v3 as far as a Heat client needs it: password authentication with a project scope
 * (`POST /v3/auth/tokens` → 201, token in `X-Subject-Token`, catalog in the body), and
 * Keystone's error JSON. Format: Identity API v3 reference, "Password authentication with
 * scoped authorization" (docs.openstack.org/api-ref/identity/v3).
 */
import { PATHS, type SimContext } from './sim-context.js';
import { header, json, type Reply, type SimRequest } from './sim-http.js';
import type { SimToken } from './token-store.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

const MESSAGES: Record<number, string> = {
  401: 'The request you have made requires authentication.',
  404: 'The resource could not be found.',
  500: 'An unexpected error prevented the server from fulfilling your request.',
  503: 'The server is currently unavailable. Please try again at a later time.',
};

/** Keystone's error body: `{"error": {"code", "message", "title"}}`. */
export function keystoneError(status: number, message = MESSAGES[status] ?? 'Error', template = '*'): Reply {
  const headers: Record<string, string> = {};
  if (status === 401) headers['WWW-Authenticate'] = 'Keystone uri="/identity"';
  return json(status, { error: { code: status, message, title: TITLES[status] ?? 'Error' } }, template, headers);
}

/** Keystone timestamps carry microseconds: `2015-11-05T22:00:11.000000Z`. */
function keystoneTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

interface PasswordAuth {
  auth?: {
    identity?: {
      methods?: unknown;
      password?: { user?: { name?: string; id?: string; password?: string; domain?: { name?: string; id?: string } } };
    };
    scope?: { project?: { name?: string; id?: string; domain?: { name?: string; id?: string } } } | string;
  };
}

function domainMatches(domain: { name?: string; id?: string } | undefined, expected: string): boolean {
  if (!domain) return false;
  const want = expected.toLowerCase();
  return domain.name?.toLowerCase() === want || domain.id?.toLowerCase() === want || (want === 'default' && domain.id === 'default');
}

export async function handleKeystone(ctx: SimContext, req: SimRequest): Promise<Reply> {
  if (req.path === '' || req.path === '/') {
    if (req.method !== 'GET') return keystoneError(404, undefined, '/');
    return json(200, {
      version: {
        id: 'v3.14',
        status: 'stable',
        updated: '2020-04-07T00:00:00Z',
        links: [{ rel: 'self', href: `${req.origin}${PATHS.keystone}/` }],
        'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
      },
    }, '/');
  }
  if (req.path !== '/auth/tokens') return keystoneError(404, undefined, '*');
  if (req.method !== 'POST') return keystoneError(404, undefined, '/auth/tokens');
  const template = '/auth/tokens';
  let body: PasswordAuth;
  try {
    body = JSON.parse(await req.body()) as PasswordAuth;
  } catch {
    return keystoneError(400, 'Malformed request body: expecting a JSON object.', template);
  }
  const identity = body.auth?.identity;
  const user = identity?.password?.user;
  if (!identity || !Array.isArray(identity.methods) || !identity.methods.includes('password') || !user) {
    return keystoneError(400, "Invalid input for field 'identity': 'password' is a required property", template);
  }
  const creds = ctx.credentials;
  const userOk =
    (user.name === creds.username && domainMatches(user.domain, creds.userDomain)) || user.id === ctx.userId;
  if (!userOk || user.password !== creds.password) return keystoneError(401, undefined, template);
  const scope = typeof body.auth?.scope === 'object' ? body.auth.scope.project : undefined;
  if (scope && !(scope.id === creds.projectId || (scope.name === creds.projectName && domainMatches(scope.domain, creds.userDomain)))) {
    return keystoneError(401, undefined, template);
  }
  const token = ctx.tokens.issue();
  return json(201, { token: renderToken(ctx, req, token, scope !== undefined) }, template, { 'X-Subject-Token': token.id });
}

function renderToken(ctx: SimContext, req: SimRequest, token: SimToken, scoped: boolean): Record<string, unknown> {
  const domain = { id: 'default', name: ctx.credentials.userDomain };
  const out: Record<string, unknown> = {
    methods: ['password'],
    user: { domain, id: ctx.userId, name: ctx.credentials.username, password_expires_at: null },
    audit_ids: [token.auditId],
    expires_at: keystoneTime(token.expiresAtMs),
    issued_at: keystoneTime(token.issuedAtMs),
  };
  if (!scoped) return out;
  const endpoint = (service: string, url: string): Record<string, unknown>[] =>
    (['public', 'internal', 'admin'] as const).map((iface) => ({
      id: `${service}-${iface}`,
      interface: iface,
      region: ctx.region,
      region_id: ctx.region,
      url,
    }));
  const origin = req.origin;
  out.project = { domain, id: ctx.credentials.projectId, name: ctx.credentials.projectName };
  out.is_domain = false;
  out.roles = [
    { id: 'member-role', name: 'member' },
    { id: 'reader-role', name: 'reader' },
  ];
  out.catalog = [
    {
      endpoints: endpoint('heat', `${origin}${PATHS.heat}/${ctx.credentials.projectId}`),
      id: 'heat-service',
      type: 'orchestration',
      name: 'heat',
    },
    { endpoints: endpoint('keystone', `${origin}${PATHS.keystone}`), id: 'keystone-service', type: 'identity', name: 'keystone' },
    { endpoints: endpoint('zaqar', `${origin}${PATHS.zaqar}`), id: 'zaqar-service', type: 'messaging', name: 'zaqar' },
  ];
  return out;
}

/** keystonemiddleware's answer to a missing, unknown or expired token. */
export function tokenRejected(template: string): Reply {
  return keystoneError(401, MESSAGES[401], template);
}

export function checkToken(ctx: SimContext, req: SimRequest): boolean {
  return ctx.tokens.validate(header(req, 'x-auth-token'), ctx.faults.earlyExpiryMs()) !== undefined;
}
