/**
 * Real processes for the resilience suite: a private redis-server with AOF on a fixed port
 * (stopped and restarted mid-test), `heat-gateway start` child processes with a config file,
 * the simulator, and HTTP helpers that read the gateway as Conductor does.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRedisServer } from '../../src/redis/local-redis-server.js';
import type { Simulator } from '../../src/sim/simulator.js';
import type { Instance, Deployment } from '../../src/model/types.js';
import { TOKENS } from '../helpers/gateway.js';
import { runCli, type CliProcess } from '../helpers/process.js';
import { freePort, waitFor } from '../helpers/redis.js';
import { expectedState, simBackends } from '../helpers/world.js';

export { TOKENS };

/** A redis-server persisting with AOF under a temp dir, on one port across restarts. */
export async function aofRedis(port?: number): Promise<LocalRedisServer> {
  return LocalRedisServer.start({ port: port ?? (await freePort()), dataDir: mkdtempSync(join(tmpdir(), 'hgw-aof-')) });
}

export interface GatewayChild {
  cli: CliProcess;
  url: string;
  configFile: string;
}

/** Writes a config file (JSON is YAML) and starts `heat-gateway start --config` on a free port. */
export async function startGatewayChild(options: {
  redisUrl: string;
  prefix: string;
  sim?: Simulator;
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  port?: number;
}): Promise<GatewayChild> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'hgw-resilience-'));
  const configFile = join(dir, 'gateway.yaml');
  const config = {
    server: { host: '127.0.0.1', port, shutdownGraceMs: 2_000 },
    redis: { url: options.redisUrl, keyPrefix: options.prefix, pingTimeoutMs: 500, connectTimeoutMs: 1_000 },
    auth: { tokens: Object.entries(TOKENS).map(([role, token]) => ({ name: `test-${role}`, token, role })) },
    backends: options.sim ? simBackends(options.sim) : [],
    strategy: { name: 'cached-poll', cachedPoll: { intervalMs: 1_000, fastIntervalMs: 300, jitter: 0.1 }, deltacloudPoll: { intervalMs: 500, jitter: 0.1 } },
    webhooks: { allowNetworks: ['127.0.0.0/8'], retryScheduleMs: [0, 500, 1_000, 2_000, 4_000] },
    log: { level: 'info', format: 'json' },
    ...options.config,
  };
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const cli = runCli(['start', '--config', configFile], { HGW_LOG__FORMAT: 'json', ...options.env });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await get(url, '/healthz')).status === 200, { timeoutMs: 20_000, what: `gateway on ${url}\n${cli.output()}` });
  return { cli, url, configFile };
}

export interface Answer {
  status: number;
  headers: Headers;
  json: any;
  text: string;
  ms: number;
}

/** One HTTP request; never throws on a status. */
export async function call(base: string, method: string, path: string, token?: string, body?: unknown, timeoutMs = 10_000): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const isStream = String(res.headers.get('content-type')).startsWith('text/event-stream');
  const text = isStream ? '' : await res.text();
  if (isStream) await res.body?.cancel();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text, ms: performance.now() - started };
}

export const get = (base: string, path: string, token?: string) => call(base, 'GET', path, token);

/** Every item of a paged list read. */
export async function all<T>(base: string, path: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await get(base, `${path}${sep}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, TOKENS.client);
    if (page.status !== 200) throw new Error(`${path}: ${page.status} ${page.text}`);
    out.push(...(page.json.data as T[]));
    cursor = page.json.next as string | null;
  } while (cursor);
  return out;
}

/** Differences between what the gateway serves and the simulator's world ([] when they agree). */
export async function differences(base: string, sim: Simulator): Promise<string[]> {
  const world = sim.handle.world();
  const instances = new Map((await all<Instance>(base, '/v1/instances?include=deleted')).map((i) => [i.id, i]));
  const deployments = new Map((await all<Deployment>(base, '/v1/deployments?include=deleted')).map((d) => [d.id, d]));
  const problems: string[] = [];
  const live = new Set<string>();
  for (const i of world.instances) {
    const want = expectedState(i, 'heat');
    if (want === null) continue;
    live.add(i.id);
    const got = instances.get(i.id);
    if (!got) problems.push(`${i.id}: missing (want ${want})`);
    else if (got.state !== want) problems.push(`${i.id}: ${got.state} (want ${want})`);
  }
  for (const doc of instances.values()) if (!live.has(doc.id) && doc.state !== 'vanished') problems.push(`${doc.id}: ${doc.state}, gone from the world`);
  for (const d of world.deployments) {
    const got = deployments.get(d.id);
    if (!got) problems.push(`deployment ${d.id}: missing`);
    else if (got.status !== d.stackStatus) problems.push(`deployment ${d.id}: ${got.status} (want ${d.stackStatus})`);
  }
  return problems;
}

/** Log lines (JSON) of a child gateway. */
export function logLines(child: GatewayChild): { level: string; message: string; [k: string]: unknown }[] {
  return child.cli
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
}
