/**
 * What the read benchmarks share: the seeded cache (instances written through the store, the
 * way a strategy fills it), the gateway's config, and waiting for a child's HTTP port.
 * Used by bench/read-throughput.ts and bench/replicas.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { InstanceObservation } from '../src/model/types.js';
import { StateStore } from '../src/store/state-store.js';

/** The client token the read benchmarks' gateways accept. */
export const CLIENT_TOKEN = 'bench-client-token-0123456789abcdef';

/** `srv-000042`: instance ids sort the way they are numbered. */
export function instanceId(n: number): string {
  return `srv-${String(n).padStart(6, '0')}`;
}

/** The n-th seeded instance. */
export function seededObservation(n: number): InstanceObservation {
  return {
    id: instanceId(n),
    deploymentId: `stack-${n % 200}`,
    name: `server-${n % 5}`,
    state: 'running',
    backend: { id: 'heat-1', kind: 'heat', status: 'ACTIVE' },
    addresses: { public: [`172.24.${(n >> 8) & 255}.${n & 255}`], private: [`10.0.${(n >> 8) & 255}.${n & 255}`] },
    updatedAt: new Date(Date.UTC(2026, 10, 25)).toISOString(),
  };
}

/** Writes `instances` instances under `prefix` through the store's observe path. */
export async function seedInstances(redis: Redis, prefix: string, instances: number): Promise<void> {
  const store = new StateStore(redis, prefix, { maxLength: 1_000_000, maxAgeMs: 86_400_000 });
  for (let i = 0; i < instances; i += 500) {
    const batch: InstanceObservation[] = [];
    for (let n = i; n < Math.min(i + 500, instances); n++) batch.push(seededObservation(n));
    await store.observeInstances(batch, { source: 'cached-poll' });
  }
}

/**
 * A gateway config as a user would write it for reads: a client and an admin token, the
 * default strategy and modules, no backend, warnings only in the log.
 */
export function writeGatewayConfig(dir: string, options: { port: number; redisUrl: string; prefix: string; name?: string }): string {
  const file = join(dir, `${options.name ?? 'gateway'}.yaml`);
  writeFileSync(
    file,
    JSON.stringify({
      server: { host: '127.0.0.1', port: options.port },
      redis: { url: options.redisUrl, keyPrefix: options.prefix },
      auth: {
        tokens: [
          { name: 'bench-client', token: CLIENT_TOKEN, role: 'client' },
          { name: 'bench-admin', token: 'bench-admin-token-0123456789abcdef', role: 'admin' },
        ],
      },
      log: { level: 'warn', format: 'json' },
    }),
  );
  return file;
}

export { freePort } from '../src/redis/local-redis-server.js';

/** Waits (60 s at most) until `url` answers 200, failing at once if `child` exits. */
export async function waitHttp(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${log()}`);
    try {
      const res = await fetch(url);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within 60 s:\n${log()}`);
}
