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
/** Two clouds in one gateway: a Heat cloud on a push strategy, a Deltacloud-only cloud on its poller. */
export const MIXED = 'mixed';

/** Every strategy, the push strategy over AMQP, the mixed clouds, then the baseline. */
export const BENCH_MODES: readonly string[] = [...STRATEGY_NAMES, amqpMode(), MIXED, DBOMATIC];

/**
 * The push strategy again, its pushes from the simulator's RabbitMQ notification bus
 * (`push.amqp`) instead of Zaqar: `webhook-amqp`.
 */
export function amqpMode(): string {
  return `${mixedStrategies().heat}-amqp`;
}

/** The mixed mode's strategies: Heat's push strategy (changes bound 0), Deltacloud's only reader. */
export function mixedStrategies(): { heat: string; deltacloud: string } {
  const only = (kind: string) => STRATEGIES.filter((d) => d.reads.length === 1 && d.reads[0] === kind && d.conformance.kind === 'within');
  const push = only('heat').find((d) => d.conformance.kind === 'within' && d.conformance.changeMs(d.options.parse({})) === 0) ?? only('heat')[0]!;
  return { heat: push.name, deltacloud: only('deltacloud')[0]!.name };
}

/** The clouds of a run, each with the truth it is judged against. */
export function cloudsOf(mode: BenchMode, sim: Simulator, dcSim?: Simulator): { sim: Simulator; source: TruthSource; label: string }[] {
  if (mode !== MIXED || !dcSim) return [{ sim, source: truthSourceOf(mode), label: mode }];
  const { heat, deltacloud } = mixedStrategies();
  return [
    { sim, source: 'heat', label: `Heat cloud (${heat})` },
    { sim: dcSim, source: 'deltacloud', label: `Deltacloud-only cloud (${deltacloud})` },
  ];
}
export type BenchMode = string;

function definitionOf(mode: BenchMode): AnyStrategyDefinition | undefined {
  return findStrategy(mode);
}

/** The ground truth a mode is judged against: Heat's view when it reads Heat, else Deltacloud's. */
export function truthSourceOf(mode: BenchMode): TruthSource {
  const definition = definitionOf(mode === amqpMode() ? mixedStrategies().heat : mode);
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
  /** The AMQP mode's RabbitMQ (the simulator publishes its notifications there). */
  amqpUrl?: string;
  /** The Deltacloud-only cloud of the mixed mode. */
  dcSim?: Simulator;
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
  const mixed = mode === MIXED ? mixedStrategies() : undefined;
  const dc = setup.dcSim ?? sim;
  const backends =
    mode === DBOMATIC
      ? []
      : [
          {
            id: 'heat-sim',
            kind: 'heat',
            keystone: { url: sim.keystoneUrl, username: c.username, password: c.password, projectName: c.projectName },
            concurrency: 16,
            push: setup.amqpUrl
              ? { amqp: { url: setup.amqpUrl, queue: `heat-gateway.bench-${setup.prefix.slice(1, -2)}`, topics: ['notifications.info', 'notifications.error'] } }
              : { subscriptionUrl: `${sim.zaqarUrl}/queues/heat-events/subscriptions`, token: `bench-push-${randomBytes(8).toString('hex')}` },
            ...(mixed ? { strategy: mixed.heat } : {}),
          },
          {
            id: 'dc-sim',
            kind: 'deltacloud',
            url: dc.deltacloudUrl,
            username: dc.credentials.deltacloudUser,
            password: dc.credentials.deltacloudPassword,
            driver: dc.credentials.driver,
            concurrency: 16,
            ...(mixed ? { strategy: mixed.deltacloud } : {}),
          },
        ];
  // The baseline runs a gateway that does nothing on its own (a strategy whose reads drive
  // it; the baseline's own poller writes the cache).
  const name =
    mode === DBOMATIC ? STRATEGIES.find((d) => d.conformance.kind === 'on-read')!.name : mode === amqpMode() ? mixedStrategies().heat : (mixed?.heat ?? mode);
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
