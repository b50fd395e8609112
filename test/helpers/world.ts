/**
 * A simulator plus an in-process gateway running the strategy runtime against it: the world
 * every strategy test starts from. The simulator runs on a manual clock, so tests move time
 * and apply changes explicitly. With `manual: true` the strategies' schedules run on a
 * {@link ManualScheduler} on that same clock: `world.advance(ms)` runs every tick and job due
 * on the way, then waits for the pushes it caused to be handled.
 */
import type { BackendConfig } from '../../src/config/schema.js';
import type { Config } from '../../src/config/schema.js';
import type { Gateway } from '../../src/gateway.js';
import { PushIngest } from '../../src/push/http-ingest.js';
import { heatServerState, mapDeltacloudState, type InstanceState } from '../../src/model/states.js';
import type { Instance } from '../../src/model/types.js';
import { startSimulator, type Simulator, type SimulatorOptions, type WorldSnapshot } from '../../src/sim/simulator.js';
import { ManualScheduler } from '../../src/strategy/manual-scheduler.js';
import { createConductorApiModule } from '../../src/api/conductor-api-module.js';
import type { ModuleDeps } from '../../src/gateway.js';
import { createStrategyModules, type StrategyModulesOptions } from '../../src/strategy/strategy-modules.js';
import { StrategyRuntime } from '../../src/strategy/strategy-runtime.js';
import { startTestGateway, testConfig } from './gateway.js';

export const PUSH_SECRET = 'sim-push-secret-0123456789abcdef';

/** Backend configs that point at a simulator: one Heat (Keystone, Zaqar push) and one Deltacloud. */
export function simBackends(sim: Simulator, options: { timeoutMs?: number } = {}): BackendConfig[] {
  const c = sim.credentials;
  const common = { timeoutMs: options.timeoutMs ?? 2_000, retries: 1, concurrency: 8 };
  return [
    {
      id: 'heat-1',
      kind: 'heat',
      ...common,
      keystone: {
        url: sim.keystoneUrl,
        username: c.username,
        password: c.password,
        userDomain: c.userDomain,
        projectName: c.projectName,
        projectDomain: 'Default',
        interface: 'public',
      },
      serverResourceTypes: ['OS::Nova::Server'],
      nestedDepth: 2,
      push: {
        subscriptionUrl: `${sim.zaqarUrl}/queues/heat-events/subscriptions`,
        signingSecret: PUSH_SECRET,
        signatureHeader: 'X-Signature',
        subscriptionTtlMs: 3_600_000,
      },
    },
    {
      id: 'dc-1',
      kind: 'deltacloud',
      ...common,
      url: sim.deltacloudUrl,
      username: c.deltacloudUser,
      password: c.deltacloudPassword,
      driver: c.driver,
      format: 'xml',
    },
  ] as BackendConfig[];
}

/** Fast intervals so tests see polls within a second or two. */
export const FAST_STRATEGY_OPTIONS = {
  cachedPoll: { intervalMs: 600, fastIntervalMs: 200, jitter: 0.1 },
  deltacloudPoll: { intervalMs: 400, jitter: 0.1 },
  webhook: { resyncIntervalMs: 60_000, jitter: 0.1 },
  onDemand: { readDeadlineMs: 1_500 },
};

export interface World {
  sim: Simulator;
  gateway: Gateway;
  runtime: StrategyRuntime;
  ingest: PushIngest;
  url: string;
  config: Config;
  /** Manual worlds: moves time by `ms`, running what falls due, then settles pushes. */
  advance(ms: number): Promise<void>;
  /** Waits until every push the simulator sent has been handled by the gateway. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export async function startWorld(
  strategy: string,
  options: {
    sim?: SimulatorOptions;
    config?: Record<string, unknown>;
    prefix?: string;
    manual?: boolean;
    strategyOptions?: Record<string, unknown>;
    /** backends[].strategy by backend id. */
    backendStrategies?: Record<string, string>;
  } = {},
): Promise<World> {
  // World time starts at the wall clock so Keystone's expires_at means the same to both sides.
  const sim = await startSimulator({ clock: 'manual', startTime: new Date().toISOString(), seed: 7, deployments: 4, instancesPerDeployment: 3, ...options.sim });
  const base = await testConfig();
  const config = await testConfig({
    redis: { ...base.redis, keyPrefix: options.prefix ?? base.redis.keyPrefix },
    backends: simBackends(sim).map((b) => (options.backendStrategies?.[b.id] ? { ...b, strategy: options.backendStrategies[b.id] } : b)),
    strategy: { name: strategy, ...(options.strategyOptions ?? FAST_STRATEGY_OPTIONS) },
    ...options.config,
  });
  return gatewayWorld(sim, [sim], config, options.manual ?? false);
}

/** Two clouds: a Heat cloud (`heat-1`) and a Deltacloud-only cloud (`dc-1`), each its own simulator and strategy. */
export interface MixedWorld extends World {
  heatSim: Simulator;
  dcSim: Simulator;
}

export async function startMixedWorld(
  strategies: { heat: string; deltacloud: string; default?: string },
  options: { sim?: SimulatorOptions } = {},
): Promise<MixedWorld> {
  const startTime = new Date().toISOString();
  const common = { clock: 'manual' as const, startTime, deployments: 3, instancesPerDeployment: 2, ...options.sim };
  const heatSim = await startSimulator({ ...common, seed: 7 });
  const dcSim = await startSimulator({ ...common, seed: 8 });
  const [heat] = simBackends(heatSim);
  const [, dc] = simBackends(dcSim);
  const config = await testConfig({
    backends: [
      { ...heat, strategy: strategies.heat },
      { ...dc, strategy: strategies.deltacloud },
    ],
    strategy: { name: strategies.default ?? strategies.heat },
  });
  const world = await gatewayWorld(heatSim, [heatSim, dcSim], config, true);
  return { ...world, heatSim, dcSim };
}

async function gatewayWorld(sim: Simulator, sims: Simulator[], config: Config, manual: boolean): Promise<World> {
  // Every simulator and the gateway share one clock: the first simulator's.
  const clock = {
    now: () => sim.handle.now(),
    advanceTo: (ms: number) => {
      for (const each of sims) each.handle.advance(Math.max(0, ms - each.handle.now()));
    },
  };
  let scheduler: ManualScheduler | undefined;
  const options: StrategyModulesOptions = {
    retryBaseDelayMs: 5,
    convergeCheckMs: 200,
    ...(manual ? { scheduler: (stores) => (scheduler = new ManualScheduler(stores.schedules, clock)) } : {}),
  };
  // The strategy side and the Conductor reads (routed through it).
  const modules = (deps: ModuleDeps) => {
    const strategy = createStrategyModules(deps, options);
    return [...strategy.modules, createConductorApiModule(deps, strategy.runtime)];
  };
  const { gateway, url } = await startTestGateway({ config, modules: [modules], ...(manual ? { now: clock.now } : {}) });
  const runtime = gateway.modules.find((m): m is StrategyRuntime => m instanceof StrategyRuntime)!;
  const ingest = gateway.modules.find((m): m is PushIngest => m instanceof PushIngest)!;
  const settle = async () => {
    for (const each of sims) await each.handle.pushIdle();
    await ingest.idle();
  };
  return {
    sim,
    gateway,
    runtime,
    ingest,
    url,
    config,
    settle,
    async advance(ms) {
      if (!scheduler) throw new Error('advance() needs a world started with { manual: true }');
      await settle();
      await scheduler.advance(ms);
      await settle();
    },
    async close() {
      await gateway.stop();
      for (const each of sims) await each.close();
    },
  };
}

/** The state the cache should hold for a world instance, by the source it comes from. */
export function expectedState(i: WorldSnapshot['instances'][number], source: 'heat' | 'deltacloud'): InstanceState | null {
  if (source === 'deltacloud') return i.deltacloudState === null ? null : mapDeltacloudState(i.deltacloudState);
  return heatServerState(i.novaStatus, i.resourceStatus).state;
}

/** Differences between the cache and the simulator's world ([] when they agree). */
export async function compareWithWorld(
  world: World,
  source: 'heat' | 'deltacloud',
  only: { sim?: Simulator; backendId?: string } = {},
): Promise<string[]> {
  const snapshot = (only.sim ?? world.sim).handle.world();
  const problems: string[] = [];
  const live = new Set<string>();
  for (const i of snapshot.instances) {
    const want = expectedState(i, source);
    if (want === null) continue;
    live.add(i.id);
    const got = await world.gateway.store.getInstance(i.id);
    if (!got) problems.push(`${i.id}: missing (want ${want})`);
    else if (got.state !== want) problems.push(`${i.id}: ${got.state} (want ${want})`);
    else if (source === 'heat' && got.deploymentId !== i.deploymentId) problems.push(`${i.id}: in ${got.deploymentId} (want ${i.deploymentId})`);
  }
  // Nothing the world no longer has may look alive in the cache.
  let cursor: string | undefined;
  do {
    const page = await world.gateway.store.listInstancesJson({ limit: 1_000, ...(cursor ? { cursor } : {}) });
    for (const json of page.items) {
      const doc = JSON.parse(json) as Instance;
      if (only.backendId !== undefined && doc.backend.id !== only.backendId) continue;
      if (!live.has(doc.id) && doc.state !== 'vanished') problems.push(`${doc.id}: ${doc.state} in the cache, gone from the world`);
    }
    cursor = page.next ?? undefined;
  } while (cursor);
  if (source === 'heat') {
    for (const d of snapshot.deployments) {
      const got = await world.gateway.store.getDeployment(d.id);
      if (!got) problems.push(`deployment ${d.id}: missing`);
      else if (got.status !== d.stackStatus) problems.push(`deployment ${d.id}: ${got.status} (want ${d.stackStatus})`);
    }
  }
  return problems;
}
