/**
 * The store is the only door to Redis. Statically: only src/store/ (and src/redis/, which
 * opens and closes connections) imports ioredis at run time, and only src/store/ holds Lua.
 * At run time: every ioredis command a whole gateway issues (reads, the feed, SSE, webhooks
 * with a delivery, rate limits, pushes, strategy switches, admin status) is traced to the
 * source file that issued it, and that file is in src/store/ — or the command is BullMQ's own.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { defaultModules } from '../../../src/modules.js';
import { startSimulator, type Simulator } from '../../../src/sim/simulator.js';
import { bearer, startTestGateway, testConfig, TOKENS } from '../../helpers/gateway.js';
import { waitFor } from '../../helpers/redis.js';
import { startReceiver, type Receiver } from '../../helpers/webhook-receiver.js';
import { simBackends } from '../../helpers/world.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/**
 * Who issued a command, from its stack: `ok` (store, BullMQ, ioredis itself, connection
 * management, a test) or the offending file.
 */
export function issuerOf(stack: string): { ok: true; by: string } | { ok: false; by: string } {
  // The first frame is the tracing wrapper itself.
  for (const line of stack.split('\n').slice(2)) {
    if (line.includes('node:internal') || line.includes('node_modules/ioredis/')) continue;
    if (line.includes('node_modules/bullmq/')) return { ok: true, by: 'bullmq' };
    const file = /((?:\/[^/\s():]+)+\.[cm]?[jt]s)/.exec(line)?.[1];
    if (!file || file.includes('/node_modules/')) continue;
    if (file.includes('/src/store/')) return { ok: true, by: 'src/store' };
    if (file.includes('/src/redis/')) return { ok: true, by: 'src/redis (connections)' };
    if (file.includes('/test/')) return { ok: true, by: 'test' };
    return { ok: false, by: file };
  }
  return { ok: true, by: 'ioredis' };
}

describe('the store is the only door to Redis', function () {
  this.timeout(60_000);

  it('only src/store/ and src/redis/ import ioredis at run time; only src/store/ holds Lua', () => {
    for (const file of [...sourceFiles('src'), ...sourceFiles('strategies')]) {
      const text = readFileSync(file, 'utf8');
      const inStore = file.startsWith('src/store/');
      if (!inStore && !file.startsWith('src/redis/')) {
        expect(/^import (?!type)[^;]*from 'ioredis'/m.test(text), `${file} imports ioredis`).to.equal(false);
      }
      if (!inStore) {
        expect(text.includes('redis.call('), `${file} holds Lua`).to.equal(false);
        expect(text.includes('defineCommand('), `${file} defines a Redis command`).to.equal(false);
      }
    }
  });

  it('tells a store command from one issued elsewhere', () => {
    const frame = (file: string) => `    at fn (/repo/${file}:10:5)`;
    expect(issuerOf(['Error', frame('test/x.ts'), frame('src/store/state-store.ts')].join('\n')).ok).to.equal(true);
    expect(issuerOf(['Error', frame('test/x.ts'), frame('src/api/rate-limiter.ts')].join('\n'))).to.deep.equal({ ok: false, by: '/repo/src/api/rate-limiter.ts' });
    expect(issuerOf(['Error', frame('test/x.ts'), '    at q (/repo/node_modules/bullmq/dist/esm/classes/queue.js:1:1)', frame('src/strategy/scheduler.ts')].join('\n')).ok).to.equal(true);
  });

  describe('at run time', () => {
    const commander = Object.getPrototypeOf(Redis.prototype) as Record<string, unknown>;
    const restore: (() => void)[] = [];
    const offenders = new Map<string, Set<string>>();
    const issuers = new Map<string, number>();
    let sim: Simulator;
    let receiver: Receiver;
    let previousLimit: number;

    const traced = (name: string, fn: (...args: unknown[]) => unknown) =>
      function (this: unknown, ...args: unknown[]) {
        const who = issuerOf(new Error().stack ?? '');
        issuers.set(who.by, (issuers.get(who.by) ?? 0) + 1);
        if (!who.ok) offenders.set(who.by, (offenders.get(who.by) ?? new Set()).add(name));
        return fn.apply(this, args);
      };

    before(() => {
      previousLimit = Error.stackTraceLimit;
      Error.stackTraceLimit = 40;
      const skip = new Set(['constructor', 'defineCommand', 'getBuiltinCommands', 'createBuiltinCommand', 'addBuiltinCommand', 'sendCommand']);
      for (const name of Object.getOwnPropertyNames(commander)) {
        const original = commander[name];
        if (skip.has(name) || typeof original !== 'function') continue;
        commander[name] = traced(name, original as (...args: unknown[]) => unknown);
        restore.push(() => (commander[name] = original));
      }
      const define = commander.defineCommand as (this: Record<string, unknown>, name: string, d: unknown) => void;
      commander.defineCommand = function (this: Record<string, unknown>, name: string, definition: unknown) {
        define.call(this, name, definition);
        for (const n of [name, `${name}Buffer`]) this[n] = traced(n, this[n] as (...args: unknown[]) => unknown);
      };
      restore.push(() => (commander.defineCommand = define));
    });

    after(async () => {
      for (const undo of restore) undo();
      Error.stackTraceLimit = previousLimit;
      await receiver?.close();
      await sim?.close();
    });

    it('every command of a running gateway comes from src/store/ (or BullMQ)', async () => {
      sim = await startSimulator({ clock: 'manual', startTime: new Date().toISOString(), seed: 11, deployments: 2, instancesPerDeployment: 2 });
      receiver = await startReceiver();
      const base = await testConfig();
      const config = await testConfig({
        redis: base.redis,
        backends: simBackends(sim),
        auth: { ...base.auth, rateLimit: { perSecond: 1_000, burst: 1_000 } },
        strategy: { name: 'webhook' },
      });
      const { gateway, url } = await startTestGateway({ config, modules: defaultModules({ strategies: { retryBaseDelayMs: 5, convergeCheckMs: 200 } }) });
      const call = (method: string, path: string, token: string, body?: unknown) =>
        fetch(`${url}${path}`, { method, headers: { ...bearer(token), 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
      try {
        await waitFor(async () => (await gateway.store.counts()).instances === 4, { what: 'the initial sync' });
        expect((await call('POST', '/v1/webhooks', TOKENS.client, { url: receiver.url })).status).to.equal(201);
        for (const path of ['/v1/instances', '/v1/deployments', `/v1/instances/${sim.handle.world().instances[0]!.id}`, '/v1/events?after=0']) {
          expect((await call('GET', path, TOKENS.client)).status, path).to.equal(200);
        }
        const stream = await fetch(`${url}/v1/events/stream?after=0`, { headers: bearer(TOKENS.client) });
        const reader = stream.body!.getReader();
        await reader.read();
        await reader.cancel();
        for (const name of ['cached-poll', 'deltacloud-poll']) expect((await call('PUT', '/admin/strategy', TOKENS.admin, { name })).status).to.equal(200);
        expect((await call('GET', '/admin/status', TOKENS.admin)).status).to.equal(200);
        const push = { event_type: 'compute.instance.update', payload: { instance_id: sim.handle.world().instances[0]!.id } };
        expect((await call('POST', '/v1/notifications/heat-1', TOKENS.backend, push)).status).to.equal(202);
        // The strategy switches appended events: the fan-out delivers them to the endpoint.
        await waitFor(() => receiver.received.length >= 2, { timeoutMs: 10_000, what: 'webhook deliveries' });
      } finally {
        await gateway.stop();
      }
      expect(issuers.get('src/store') ?? 0, JSON.stringify([...issuers])).to.be.greaterThan(50);
      expect(issuers.get('bullmq') ?? 0).to.be.greaterThan(0);
      expect(Object.fromEntries([...offenders].map(([file, commands]) => [file, [...commands]]))).to.deep.equal({});
    });
  });
});
