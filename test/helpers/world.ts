/**
 * A simulator plus an in-process gateway running the strategy runtime against it: the world
 * every strategy test starts from. The simulator runs on a manual clock, so tests move time
 * and apply changes explicitly.
 */
import type { BackendConfig, StrategyName } from '../../src/config/schema.js';
import type { Config } from '../../src/config/schema.js';
import type { Gateway } from '../../src/gateway.js';
import { heatServerState, mapDeltacloudState, type InstanceState } from '../../src/model/states.js';
import type { Instance } from '../../src/model/types.js';
import { startSimulator, type Simulator, type SimulatorOptions, type WorldSnapshot } from '../../src/sim/simulator.js';
import { createStrategyRuntime, StrategyRuntime } from '../../src/strategy/strategy-runtime.js';
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
  url: string;
  config: Config;
  close(): Promise<void>;
}

export async function startWorld(
  strategy: StrategyName,
  options: { sim?: SimulatorOptions; config?: Record<string, unknown>; prefix?: string } = {},
): Promise<World> {
  // World time starts at the wall clock so Keystone's expires_at means the same to both sides.
  const sim = await startSimulator({ clock: 'manual', startTime: new Date().toISOString(), seed: 7, deployments: 4, instancesPerDeployment: 3, ...options.sim });
  const base = await testConfig();
  const config = await testConfig({
    redis: { ...base.redis, keyPrefix: options.prefix ?? base.redis.keyPrefix },
    backends: simBackends(sim),
    strategy: { name: strategy, ...FAST_STRATEGY_OPTIONS },
    ...options.config,
  });
  const { gateway, url } = await startTestGateway({ config, modules: [createStrategyRuntime({ retryBaseDelayMs: 5, convergeCheckMs: 200 })] });
  const runtime = gateway.modules.find((m): m is StrategyRuntime => m instanceof StrategyRuntime)!;
  return {
    sim,
    gateway,
    runtime,
    url,
    config,
    async close() {
      await gateway.stop();
      await sim.close();
    },
  };
}

/** The state the cache should hold for a world instance, by the source it comes from. */
export function expectedState(i: WorldSnapshot['instances'][number], source: 'heat' | 'deltacloud'): InstanceState | null {
  if (source === 'deltacloud') return i.deltacloudState === null ? null : mapDeltacloudState(i.deltacloudState);
  return heatServerState(i.novaStatus, i.resourceStatus).state;
}

/** Differences between the cache and the simulator's world ([] when they agree). */
export async function compareWithWorld(world: World, source: 'heat' | 'deltacloud'): Promise<string[]> {
  const snapshot = world.sim.handle.world();
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
