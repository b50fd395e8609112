/**
 * Plain-HTTP helpers for the simulator tests. They deliberately parse the wire formats on
 * their own (fetch + fast-xml-parser), independent of any gateway client code.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { XMLParser } from 'fast-xml-parser';
import type { Simulator } from '../../../src/sim/simulator.js';

export async function getToken(sim: Simulator, password = sim.credentials.password): Promise<Response> {
  const c = sim.credentials;
  return fetch(`${sim.keystoneUrl}/auth/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: c.username, domain: { name: c.userDomain }, password } },
        },
        scope: { project: { name: c.projectName, domain: { name: c.userDomain } } },
      },
    }),
  });
}

export async function token(sim: Simulator): Promise<string> {
  const res = await getToken(sim);
  const id = res.headers.get('x-subject-token');
  await res.arrayBuffer();
  if (res.status !== 201 || !id) throw new Error(`token request failed: ${res.status}`);
  return id;
}

export function heat(sim: Simulator, tok: string, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${sim.heatUrl}${path}`, { ...init, headers: { 'X-Auth-Token': tok, ...(init.headers ?? {}) } });
}

export function basic(sim: Simulator): string {
  const c = sim.credentials;
  return `Basic ${Buffer.from(`${c.deltacloudUser}:${c.deltacloudPassword}`).toString('base64')}`;
}

export function deltacloud(sim: Simulator, path: string, headers: Record<string, string> = {}, withAuth = true): Promise<Response> {
  return fetch(`${sim.deltacloudUrl}${path}`, { headers: { ...(withAuth ? { Authorization: basic(sim) } : {}), ...headers } });
}

export const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  isArray: (name) => ['instance', 'address', 'link'].includes(name),
  parseTagValue: false,
});

/** Polls `check` until it returns a value other than undefined, or fails at the deadline. */
export async function waitFor<T>(check: () => T | undefined | Promise<T | undefined>, what: string, deadlineMs = 5_000): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
  body: Record<string, unknown>;
}

/** A local push receiver on 127.0.0.1:0 recording every POST. */
export async function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void>; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: req.headers, raw, body: JSON.parse(raw) as Record<string, unknown> });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function subscribe(
  sim: Simulator,
  tok: string,
  queue: string,
  body: Record<string, unknown>,
): Promise<Response> {
  return fetch(`${sim.zaqarUrl}/queues/${queue}/subscriptions`, {
    method: 'POST',
    headers: { 'X-Auth-Token': tok, 'Client-ID': '3381af92-2b9e-11e3-b191-71861300734c', 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}
