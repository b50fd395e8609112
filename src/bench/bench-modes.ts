/**
 * The benchmark's modes: every strategy of strategies/index.ts, plus `dbomatic-baseline`
 * (Aeolus's dbomatic polling each instance). What a mode runs, which ground truth it is
 * judged against, and the gateway config of its run all derive from the definitions.
 */
import { randomBytes } from 'node:crypto';
import { optionsKey, type AnyStrategyDefinition } from '../strategy/define-strategy.js';
import { findStrategy, STRATEGIES, STRATEGY_NAMES } from '../strategy/registry.js';
import type { Simulator } from '../sim/simulator.js';
import type { TruthSource } from './truth-analysis.js';

export const DBOMATIC = 'dbomatic-baseline';

/** Every strategy, then the baseline. */
export const BENCH_MODES: readonly string[] = [...STRATEGY_NAMES, DBOMATIC];
export type BenchMode = string;

function definitionOf(mode: BenchMode): AnyStrategyDefinition | undefined {
  return findStrategy(mode);
}

/** The ground truth a mode is judged against: Heat's view when it reads Heat, else Deltacloud's. */
export function truthSourceOf(mode: BenchMode): TruthSource {
  const definition = definitionOf(mode);
  return definition?.reads.includes('heat') ? 'heat' : 'deltacloud';
}

/** Strategies whose cache is refreshed by reads: run again at a higher read rate, and warmed by one read. */
export function readsDriveStrategy(mode: BenchMode): boolean {
  return definitionOf(mode)?.conformance.kind === 'on-read';
}

/**
 * Options for the 15 s smoke run: every `…IntervalMs` option of every strategy, scaled down
 * 6× (at least 1 s), so a polling strategy polls a few times within the window. The full run
 * uses every strategy's documented defaults.
 */
export function quickStrategyOptions(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const definition of STRATEGIES) {
    const defaults = definition.options.parse({}) as Record<string, unknown>;
    const scaled: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(defaults)) {
      if (/intervalMs$/i.test(key) && typeof value === 'number') scaled[key] = Math.max(1_000, Math.round(value / 6));
    }
    if (Object.keys(scaled).length > 0) out[optionsKey(definition.name)] = scaled;
  }
  return out;
}

export function benchTokens() {
  return { client: `bench-client-${randomBytes(8).toString('hex')}`, admin: `bench-admin-${randomBytes(8).toString('hex')}` };
}

export interface RunSetup {
  sim: Simulator;
  redisUrl: string;
  prefix: string;
  port: number;
  strategyOptions: Record<string, unknown>;
  tokens: { client: string; admin: string };
}

/** The gateway config of one mode's run. */
export function gatewayConfig(mode: BenchMode, setup: RunSetup): Record<string, unknown> {
  const { sim, tokens } = setup;
  const c = sim.credentials;
  const backends =
    mode === DBOMATIC
      ? []
      : [
          {
            id: 'heat-sim',
            kind: 'heat',
            keystone: { url: sim.keystoneUrl, username: c.username, password: c.password, projectName: c.projectName },
            concurrency: 16,
            push: { subscriptionUrl: `${sim.zaqarUrl}/queues/heat-events/subscriptions`, token: `bench-push-${randomBytes(8).toString('hex')}` },
          },
          { id: 'dc-sim', kind: 'deltacloud', url: sim.deltacloudUrl, username: c.deltacloudUser, password: c.deltacloudPassword, driver: c.driver, concurrency: 16 },
        ];
  // The baseline runs a gateway that does nothing on its own (a strategy whose reads drive
  // it; the baseline's own poller writes the cache).
  const name = mode === DBOMATIC ? STRATEGIES.find((d) => d.conformance.kind === 'on-read')!.name : mode;
  return {
    server: { host: '127.0.0.1', port: setup.port },
    redis: { url: setup.redisUrl, keyPrefix: setup.prefix },
    auth: {
      tokens: [
        { name: 'bench-conductor', token: tokens.client, role: 'client' },
        { name: 'bench-admin', token: tokens.admin, role: 'admin' },
      ],
    },
    backends,
    // The full run compares the documented defaults; --quick scales the intervals down.
    strategy: { ...setup.strategyOptions, name },
    webhooks: { allowNetworks: ['127.0.0.0/8'] },
    log: { level: 'error', format: 'json' },
  };
}
