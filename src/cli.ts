#!/usr/bin/env -S node --max-semi-space-size=32
/**
 * The `heat-gateway` command line.
 *
 * The launcher line gives V8 a young generation of up to 32 MB per semi-space (its default is
 * 16 MB): a replica ingesting lists of pushes holds ~3 MB of requests in flight, and with 16 MB
 * every scavenge copied them and promoted half: 3–10 µs of CPU per pushed change. 32 MB costs
 * deliveries and reads nothing measurable (docs/operations.md, "Sizing"). `node dist/src/cli.js`
 * skips this line: pass the flag yourself.
 */
import { Command, Option } from 'commander';
import { ConfigError, loadConfig } from './config/load.js';
import { ConfigWatcher } from './config/config-watcher.js';
import { Gateway } from './gateway.js';
import { createLogger } from './log/logger.js';
import { defaultModules } from './modules.js';
import { runDemo } from './demo.js';
import { registerSimCommand } from './sim/sim-command.js';
import { registerBenchCommand } from './bench/bench-command.js';
import { registerAdminCommands } from './admin-commands.js';
import { STRATEGY_NAMES } from './strategy/registry.js';

const program = new Command('heat-gateway')
  .description('Gateway between Aeolus Conductor and Heat-like orchestration backends')
  .showHelpAfterError();

program
  .command('start')
  .description('run the gateway')
  .addOption(new Option('-c, --config <file>', 'YAML config file').env('HGW_CONFIG'))
  .action(async (opts: { config?: string }) => {
    let config;
    try {
      config = loadConfig(opts.config);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\n`);
        process.exit(2);
      }
      throw err;
    }
    const logger = createLogger(config.log);
    const watcher = opts.config ? new ConfigWatcher(opts.config, config, logger) : undefined;
    const gateway = new Gateway({ config, logger, modules: defaultModules(), ...(watcher ? { watcher } : {}) });
    const shutdown = (signal: string) => {
      logger.info('shutting down', { signal });
      watcher?.stop();
      // gateway.stop() is bounded by server.shutdownGraceMs; this only guards against a bug there.
      setTimeout(() => {
        logger.error('shutdown overran server.shutdownGraceMs; exiting');
        process.exit(1);
      }, config.server.shutdownGraceMs + 2_000).unref();
      gateway.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error('shutdown failed', { error: (err as Error).message });
          process.exit(1);
        },
      );
    };
    // Signals are handled from the start: the gateway may wait a long time for Redis.
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    watcher?.start();
    await gateway.start();
  });

program
  .command('demo')
  .description('run a local Redis, the simulator and the gateway together, with nothing to configure')
  .option('--port <n>', 'gateway port (a free one when taken)', (v) => Number.parseInt(v, 10), 8080)
  .option('--deployments <n>', 'simulated deployments', (v) => Number.parseInt(v, 10), 5)
  .option('--instances-per-deployment <n>', 'instances per deployment', (v) => Number.parseInt(v, 10), 3)
  .option('--change-rate <r>', 'simulated changes per second', Number.parseFloat, 0.2)
  .addOption(new Option('--strategy <name>', 'the strategy to run').choices(STRATEGY_NAMES).default('cached-poll'))
  .option('--data-dir <dir>', 'where the local Redis (and RabbitMQ) keep their data', '.data')
  .option('--push <zaqar|amqp>', 'how pushes reach the gateway: Zaqar webhooks, or a local RabbitMQ notification bus (runs the webhook strategy)', 'zaqar')
  .option('--mixed', 'two simulated clouds, a strategy each: a Heat cloud on webhook, a Deltacloud-only cloud on deltacloud-poll')
  .option('--keep-data', "keep the previous run's cache, feed and webhooks (default: start from an empty keyspace)", false)
  .action(async (opts: { port: number; deployments: number; instancesPerDeployment: number; changeRate: number; strategy: string; dataDir: string; push: string; mixed?: boolean; keepData: boolean }) => {
    if (opts.push !== 'zaqar' && opts.push !== 'amqp') program.error("--push must be 'zaqar' or 'amqp'");
    await runDemo(opts);
  });

registerSimCommand(program);
registerBenchCommand(program);
registerAdminCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`heat-gateway: ${(err as Error).message}\n`);
  process.exit(1);
});
