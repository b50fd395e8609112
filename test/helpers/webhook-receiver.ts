/** A local HTTP receiver for webhook tests: records every request with its receipt time. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Received {
  headers: Record<string, string>;
  body: string;
  /** performance.now() when the request arrived. */
  at: number;
  path: string;
}

export type Behaviour = (req: Received, res: ServerResponse) => void | Promise<void>;

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** TCP connections accepted so far. */
  connections: number;
  /** What the receiver answers; default 204. */
  behaviour: Behaviour;
  close(): Promise<void>;
}

export async function startReceiver(behaviour?: Behaviour, port = 0): Promise<Receiver> {
  const receiver = { received: [] as Received[], connections: 0, behaviour: behaviour ?? ((_r, res) => void res.writeHead(204).end()) } as Receiver;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const at = performance.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString('utf8'), at, path: req.url ?? '/' };
      receiver.received.push(r);
      Promise.resolve(receiver.behaviour(r, res)).catch(() => res.destroy());
    });
  });
  server.on('connection', () => receiver.connections++);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

/** Verifies a received delivery with the standardwebhooks library; throws when invalid. */
export function verify(secret: string, r: Received): { type: string; timestamp: string; data: any } {
  return new Webhook(secret).verify(r.body, {
    'webhook-id': r.headers['webhook-id']!,
    'webhook-timestamp': r.headers['webhook-timestamp']!,
    'webhook-signature': r.headers['webhook-signature']!,
  }) as { type: string; timestamp: string; data: any };
}

/** Minimal JSON HTTP client for the gateway API. */
export async function api(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}
