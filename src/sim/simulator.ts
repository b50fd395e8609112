/**
 * The Heat-like simulator: one `node:http` server on 127.0.0.1 serving Keystone, Heat,
 * Deltacloud and Zaqar under path prefixes, plus the `/_sim` control API (truth, world,
 * stats, faults, virtual time). See docs/simulator.md.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { z } from 'zod';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import {
  CHANGE_KINDS,
  ScenarioWorld,
  type ChangeKind,
  type NovaStatus,
  type TruthRecord,
  type WorldOptions,
} from './scenario-world.js';
import { FaultInjector, faultsSchema, type Faults, type SimApi } from './fault-injector.js';
import { RequestStats, type StatsSnapshot } from './request-stats.js';
import { TokenStore } from './token-store.js';
import { PATHS, type SimContext, type SimCredentials } from './sim-context.js';
import type { Reply, SimRequest } from './sim-http.js';
import { handleKeystone, keystoneError } from './keystone-api.js';
import { handleHeat, heatError, heatTemplate } from './heat-api.js';
import { deltacloudError, deltacloudTemplate, handleDeltacloud } from './deltacloud-api.js';
import { handleZaqar, zaqarError, zaqarTemplate } from './zaqar-api.js';
import { PushDispatcher, type PushOptions } from './push-dispatcher.js';
import { startNotificationPublisher } from './amqp-publisher.js';
import { WallClockDriver } from './wall-clock.js';
import { Prng } from './prng.js';
import { problem, simControl } from './sim-control.js';

import type { Simulator, SimulatorControl, SimulatorOptions, WorldSnapshot } from './simulator-types.js';

export * from './simulator-types.js';

const DEFAULT_CREDENTIALS: SimCredentials = {
  username: 'conductor',
  password: 'sim-password',
  projectName: 'aeolus',
  projectId: '',
  userDomain: 'Default',
  deltacloudUser: 'deltacloud',
  deltacloudPassword: 'sim-password',
  driver: 'openstack',
};

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const log = options.logger ?? silentLogger();
  const seed = options.seed ?? 1;
  const manual = options.clock === 'manual';
  const startMs = manual ? Date.parse(options.startTime ?? '2025-01-01T00:00:00.000Z') : Date.now();
  const world = new ScenarioWorld({
    seed,
    deployments: options.deployments ?? 10,
    instancesPerDeployment: options.instancesPerDeployment ?? 3,
    changeRate: options.changeRate ?? 0,
    startMs,
    launchDurationMs: options.launchDurationMs,
    rebootWindowMs: options.rebootWindowMs,
    deleteDurationMs: options.deleteDurationMs,
    maxEventsPerStack: options.maxEventsPerStack,
    eventPurgeBatchSize: options.eventPurgeBatchSize,
    changeWeights: options.changeWeights,
    deltacloudShutoffState: options.deltacloudShutoffState,
  });
  // Project and user ids derive from the seed so two simulators with one seed look alike.
  const ids = new Prng(`${String(seed)}:identity`);
  const credentials: SimCredentials = { ...DEFAULT_CREDENTIALS, projectId: ids.uuid().replace(/-/g, ''), ...options.credentials };
  const faults = new FaultInjector(seed, options.faults);
  const stats = new RequestStats();
  const tokens = new TokenStore(() => world.now(), options.tokenTtlMs);
  const ctx: SimContext = {
    world,
    tokens,
    faults,
    credentials,
    userId: ids.uuid().replace(/-/g, ''),
    region: options.region ?? 'RegionOne',
    eventMarkerNotFound: options.eventMarkerNotFound ?? 'first-page',
  };
  const push = new PushDispatcher(ctx, stats, options.push);
  const bus = options.notifications?.amqpUrl || options.notifications?.aodhUrl ? await startNotificationPublisher(ctx, options.notifications) : undefined;

  const sync = (): void => {
    if (!manual) world.runUntil(Date.now());
  };

  const worldSnapshot = (): WorldSnapshot => {
    sync();
    const stacks = world.liveStacks();
    return {
      now: new Date(world.now()).toISOString(),
      deployments: stacks.map((s) => ({
        id: s.id,
        name: s.name,
        stackStatus: `${s.action}_${s.status}`,
        statusReason: s.statusReason,
        instanceIds: s.serverIds.filter((id) => world.servers.has(id)),
      })),
      instances: world.liveServers().map((s) => ({
        id: s.id,
        deploymentId: s.deploymentId,
        name: s.name,
        resourceName: s.resourceName,
        novaStatus: s.novaStatus,
        resourceStatus: `${s.resourceAction}_${s.resourceStatus}`,
        deltacloudState: world.deltacloudState(s.novaStatus),
        addresses: s.networked ? { public: [s.floatingIp], private: [s.fixedIp] } : { public: [], private: [] },
      })),
    };
  };

  const handle: SimulatorControl = {
    now: () => world.now(),
    advance(ms) {
      const before = world.truth().length;
      world.runUntil(world.now() + ms);
      return world.truth(before);
    },
    applyChange: (kind, target, opts) => world.applyChange(kind, target, opts),
    truth: (since) => {
      sync();
      return world.truth(since);
    },
    world: worldSnapshot,
    stats: () => stats.snapshot(),
    resetStats: () => stats.reset(),
    setFaults: (f) => faults.set(f),
    clearFaults: () => faults.clear(),
    faults: () => faults.current(),
    setChangeRate: (rate) => world.setChangeRate(rate),
    pushIdle: () => push.idle(),
    notificationsIdle: async () => bus?.idle(),
    notificationCounts: () => bus?.counts() ?? { published: 0, posted: 0, failed: 0 },
    scenario: world,
  };

  const apiError = (api: SimApi, req: SimRequest, status: number, template: string): Reply => {
    switch (api) {
      case 'keystone':
        return keystoneError(status, undefined, template);
      case 'heat':
        return heatError(status, status === 503 ? 'Service Unavailable' : 'Injected failure (simulator)', status === 503 ? 'HTTPServiceUnavailable' : 'InternalError', template);
      case 'deltacloud':
        return deltacloudError(ctx, req, status, undefined, template);
      case 'zaqar':
        return zaqarError(status, status === 503 ? 'Service temporarily unavailable' : 'Internal server error', 'Injected failure (simulator).', template);
    }
  };

  const route = (path: string): { api: SimApi | 'control'; rest: string } | undefined => {
    for (const [api, prefix] of [
      ['keystone', PATHS.keystone],
      ['heat', PATHS.heat],
      ['deltacloud', PATHS.deltacloud],
      ['zaqar', PATHS.zaqar],
      ['control', PATHS.control],
    ] as const) {
      if (path === prefix || path.startsWith(`${prefix}/`)) return { api, rest: path.slice(prefix.length) };
    }
    return undefined;
  };

  const templateOf = (api: SimApi, rest: string): string => {
    switch (api) {
      case 'keystone':
        return rest === '' || rest === '/' ? '/' : rest === '/auth/tokens' ? '/auth/tokens' : '*';
      case 'heat':
        return heatTemplate(rest);
      case 'deltacloud':
        return deltacloudTemplate(rest);
      case 'zaqar':
        return zaqarTemplate(rest);
    }
  };

  const control = simControl({ handle, world, stats, faults, worldSnapshot });

  const sockets = new Set<Socket>();
  const server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    void serve(req, res).catch((err: unknown) => {
      log.error('simulator request failed', { err });
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('internal simulator error');
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const send = (res: ServerResponse, reply: Reply): number => {
    const body = reply.body === undefined ? undefined : Buffer.isBuffer(reply.body) ? reply.body : Buffer.from(reply.body);
    res.writeHead(reply.status, { ...reply.headers, 'Content-Length': String(body?.length ?? 0) });
    res.end(body);
    return body?.length ?? 0;
  };

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const url = new URL(rawUrl, 'http://sim.invalid');
    const target = route(url.pathname);
    const simReq: SimRequest = {
      method: req.method ?? 'GET',
      path: target?.rest ?? url.pathname,
      query: url.searchParams,
      headers: req.headers,
      origin: `http://${req.headers.host ?? 'localhost'}`,
      rawUrl,
      body: () =>
        new Promise<string>((resolve, reject) => {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
          req.on('error', reject);
        }),
    };
    if (!target) {
      send(res, problem(404, 'Not found', `Nothing is served at ${url.pathname}; APIs live under ${Object.values(PATHS).join(', ')}`));
      return;
    }
    if (target.api === 'control') {
      send(res, await control(simReq));
      return;
    }
    const api = target.api;
    const template = templateOf(api, target.rest);
    sync();
    const decision = faults.decide(api);
    if (decision.kind === 'refuse') {
      stats.record(api, simReq.method, template, 0, 0, 0);
      req.socket.destroy();
      return;
    }
    if (decision.kind === 'hang') {
      // Never answered: the client's timeout decides. The socket dies with close().
      req.on('close', () => stats.record(api, simReq.method, template, 0, 0, 0));
      return;
    }
    if (decision.delayMs > 0) {
      await new Promise<void>((resolve) => setTimeout(resolve, decision.delayMs).unref());
      if (res.destroyed) return;
    }
    let reply: Reply;
    if (decision.kind === 'error') {
      reply = apiError(api, simReq, decision.status, template);
    } else {
      try {
        switch (api) {
          case 'keystone':
            reply = await handleKeystone(ctx, simReq);
            break;
          case 'heat':
            reply = await handleHeat(ctx, simReq);
            break;
          case 'deltacloud':
            reply = await handleDeltacloud(ctx, simReq);
            break;
          case 'zaqar':
            reply = await handleZaqar(ctx, push, simReq);
            break;
        }
      } catch (err) {
        log.error('simulated API handler failed', { api, err });
        reply = apiError(api, simReq, 500, template);
      }
    }
    if (decision.kind === 'malformed' && reply.status < 300 && reply.body !== undefined) {
      // A 200 whose body stops half way, as a proxy cutting a response short would leave it.
      const body = Buffer.from(reply.body);
      reply = { ...reply, body: body.subarray(0, Math.floor(body.length / 2)) };
    }
    const bytes = send(res, reply);
    stats.record(api, simReq.method, reply.template === '*' ? template : reply.template, reply.status, bytes, reply.work ?? 1);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.address}:${address.port}`;

  const clock = manual ? undefined : new WallClockDriver(world);

  let closing: Promise<void> | undefined;
  return {
    url,
    keystoneUrl: `${url}${PATHS.keystone}`,
    heatUrl: `${url}${PATHS.heat}/${credentials.projectId}`,
    deltacloudUrl: `${url}${PATHS.deltacloud}`,
    zaqarUrl: `${url}${PATHS.zaqar}`,
    credentials,
    handle,
    close() {
      closing ??= (async () => {
        clock?.stop();
        await push.close();
        await bus?.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await closed;
      })();
      return closing;
    },
  };
}
