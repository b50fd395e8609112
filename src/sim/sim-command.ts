/**
 * `heat-gateway sim`: runs the simulator in real time until SIGINT/SIGTERM and prints where
 * its APIs are and how to log in.
 */
import { redactText } from '../log/logger.js';
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { faultsSchema, SIM_APIS, type Faults } from './fault-injector.js';
import { startSimulator } from './simulator.js';

function int(name: string, min = 0) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };
}

function num(name: string, min = 0, max = Infinity) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}]`);
    return n;
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface SimFlags {
  port: number;
  seed: string;
  deployments: number;
  instancesPerDeployment: number;
  changeRate: number;
  rebootWindowMs?: number;
  launchDurationMs?: number;
  deleteDurationMs?: number;
  maxEventsPerStack?: number;
  latencyMs?: number;
  jitterMs?: number;
  errorRate?: number;
  errorStatus?: number;
  hangRate?: number;
  malformedRate?: number;
  tokenEarlyExpiryMs?: number;
  pushDropRate?: number;
  pushDuplicateRate?: number;
  pushDelayMs?: number;
  pushJitterMs?: number;
  pushSecret?: string;
  novaEnvelope: 'flat' | 'oslo';
  amqpUrl?: string;
  novaFormat: 'legacy' | 'versioned' | 'both';
  aodhUrl?: string;
  fault: string[];
  faultsJson?: string;
}

/** Builds the fault set from the flags; throws with a message naming the flag to fix. */
export function faultsFromFlags(flags: SimFlags): Faults {
  const faults: Record<string, Record<string, unknown>> = {};
  const forApis = (knob: string, value: number | undefined): void => {
    if (value === undefined) return;
    for (const api of SIM_APIS) (faults[api] ??= {})[knob] = value;
  };
  if (flags.faultsJson) {
    const text = flags.faultsJson.startsWith('@') ? readFileSync(flags.faultsJson.slice(1), 'utf8') : flags.faultsJson;
    Object.assign(faults, JSON.parse(text) as Record<string, Record<string, unknown>>);
  }
  forApis('latencyMs', flags.latencyMs);
  forApis('jitterMs', flags.jitterMs);
  forApis('errorRate', flags.errorRate);
  forApis('errorStatus', flags.errorStatus);
  forApis('hangRate', flags.hangRate);
  forApis('malformedRate', flags.malformedRate);
  if (flags.tokenEarlyExpiryMs !== undefined) (faults.keystone ??= {}).earlyExpiryMs = flags.tokenEarlyExpiryMs;
  const push: Record<string, unknown> = {};
  if (flags.pushDropRate !== undefined) push.dropRate = flags.pushDropRate;
  if (flags.pushDuplicateRate !== undefined) push.duplicateRate = flags.pushDuplicateRate;
  if (flags.pushDelayMs !== undefined) push.delayMs = flags.pushDelayMs;
  if (flags.pushJitterMs !== undefined) push.jitterMs = flags.pushJitterMs;
  if (Object.keys(push).length) faults.push = { ...(faults.push ?? {}), ...push };
  for (const spec of flags.fault) {
    const match = /^(\w+)\.(\w+)=(.+)$/.exec(spec);
    if (!match) throw new Error(`--fault '${spec}' must look like api.knob=value, e.g. heat.errorRate=0.1`);
    const [, api = '', knob = '', raw = ''] = match;
    const value = Number.isNaN(Number(raw)) ? raw : Number(raw);
    (faults[api] ??= {})[knob] = value;
  }
  const parsed = faultsSchema.safeParse(faults);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid fault settings (${issues})`);
  }
  return parsed.data;
}

/** Adds the `sim` command to a commander program. */
export function registerSimCommand(program: Command): Command {
  return program
    .command('sim')
    .description('run the Heat-like simulator (Keystone, Heat, Deltacloud, Zaqar push) in real time')
    .option('--port <n>', 'port on 127.0.0.1 (0 = ephemeral)', int('--port'), 8780)
    .option('--seed <seed>', 'scenario seed (same seed, same world and changes)', '1')
    .option('--deployments <n>', 'Heat stacks at start', int('--deployments'), 10)
    .option('--instances-per-deployment <n>', 'servers per stack', int('--instances-per-deployment'), 3)
    .option('--change-rate <r>', 'random changes per second', num('--change-rate'), 0.5)
    .option('--reboot-window-ms <ms>', 'REBOOT → ACTIVE after this long', int('--reboot-window-ms'))
    .option('--launch-duration-ms <ms>', 'CREATE_IN_PROGRESS → CREATE_COMPLETE after this long', int('--launch-duration-ms'))
    .option('--delete-duration-ms <ms>', 'DELETE_IN_PROGRESS → DELETE_COMPLETE after this long', int('--delete-duration-ms'))
    .option('--max-events-per-stack <n>', "Heat's max_events_per_stack", int('--max-events-per-stack', 1))
    .option('--latency-ms <ms>', 'added latency on every API', int('--latency-ms'))
    .option('--jitter-ms <ms>', 'random extra latency on every API', int('--jitter-ms'))
    .option('--error-rate <p>', 'share of API requests answered with an error', num('--error-rate', 0, 1))
    .option('--error-status <code>', 'status of injected errors (500 or 503)', int('--error-status'))
    .option('--hang-rate <p>', 'share of API requests never answered', num('--hang-rate', 0, 1))
    .option('--malformed-rate <p>', 'share of API answers cut in half (malformed body)', num('--malformed-rate', 0, 1))
    .option('--token-early-expiry-ms <ms>', 'tokens stop working this long after issue', int('--token-early-expiry-ms'))
    .option('--push-drop-rate <p>', 'share of push messages dropped', num('--push-drop-rate', 0, 1))
    .option('--push-duplicate-rate <p>', 'share of push messages sent twice', num('--push-duplicate-rate', 0, 1))
    .option('--push-delay-ms <ms>', 'delay before each push', int('--push-delay-ms'))
    .option('--push-jitter-ms <ms>', 'random extra push delay', int('--push-jitter-ms'))
    .option('--push-secret <secret>', 'default HMAC-SHA256 secret for X-Signature on pushes')
    .option('--nova-envelope <flat|oslo>', 'default format of compute.instance.update pushes', 'flat')
    .option('--amqp-url <url>', 'also publish every change to this RabbitMQ as oslo notifications (messagingv2)')
    .option('--nova-format <legacy|versioned|both>', 'Nova notification format on the bus', 'legacy')
    .option('--aodh-url <url>', 'also POST an Aodh event-alarm body here for every Nova change')
    .option('--fault <api.knob=value>', 'any fault knob, repeatable (e.g. heat.outage.durationMs is JSON-only)', collect, [])
    .option('--faults-json <json|@file>', 'a whole fault document as POST /_sim/faults takes it')
    .action(async (flags: SimFlags) => {
      if (flags.novaEnvelope !== 'flat' && flags.novaEnvelope !== 'oslo') {
        program.error("--nova-envelope must be 'flat' or 'oslo'");
      }
      if (!['legacy', 'versioned', 'both'].includes(flags.novaFormat)) program.error("--nova-format must be 'legacy', 'versioned' or 'both'");
      let faults: Faults;
      try {
        faults = faultsFromFlags(flags);
      } catch (err) {
        program.error(`sim: ${(err as Error).message}`);
      }
      const sim = await startSimulator({
        port: flags.port,
        seed: /^\d+$/.test(flags.seed) ? Number(flags.seed) : flags.seed,
        deployments: flags.deployments,
        instancesPerDeployment: flags.instancesPerDeployment,
        changeRate: flags.changeRate,
        clock: 'real',
        rebootWindowMs: flags.rebootWindowMs,
        launchDurationMs: flags.launchDurationMs,
        deleteDurationMs: flags.deleteDurationMs,
        maxEventsPerStack: flags.maxEventsPerStack,
        faults,
        push: { novaEnvelope: flags.novaEnvelope, secret: flags.pushSecret },
        notifications: { ...(flags.amqpUrl ? { amqpUrl: flags.amqpUrl } : {}), novaFormat: flags.novaFormat, ...(flags.aodhUrl ? { aodhUrl: flags.aodhUrl } : {}) },
      });
      const c = sim.credentials;
      const lines = [
        `heat-gateway simulator listening on ${sim.url}`,
        `  keystone (v3)    ${sim.keystoneUrl}`,
        `  heat (v1)        ${sim.heatUrl}`,
        `  deltacloud       ${sim.deltacloudUrl}`,
        `  zaqar (v2)       ${sim.zaqarUrl}`,
        `  control          ${sim.url}/_sim/{truth,world,stats,faults}`,
        ...(flags.amqpUrl ? [`  notifications    exchanges heat, nova on ${redactText(flags.amqpUrl)} (Nova format ${flags.novaFormat})`] : []),
        ...(flags.aodhUrl ? [`  aodh alarms      POST ${redactText(flags.aodhUrl)}`] : []),
        `credentials`,
        `  keystone         user=${c.username} password=${c.password} project=${c.projectName} (${c.projectId}) domain=${c.userDomain}`,
        `  deltacloud       user=${c.deltacloudUser} password=${c.deltacloudPassword} driver=${c.driver}`,
        `world: seed=${flags.seed} deployments=${flags.deployments} instances/deployment=${flags.instancesPerDeployment} change-rate=${flags.changeRate}/s`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await sim.close();
      process.stdout.write('simulator stopped\n');
    });
}
