#!/usr/bin/env node
/** The `heat-gateway` command line. */
import { Command, Option } from 'commander';
import { ConfigError, loadConfig } from './config/load.js';
import { ConfigWatcher } from './config/config-watcher.js';
import { Gateway } from './gateway.js';
import { createLogger } from './log/logger.js';
import { registerSimCommand } from './sim/sim-command.js';

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
    const gateway = new Gateway({ config, logger, ...(watcher ? { watcher } : {}) });
    watcher?.start();
    await gateway.start();
    const shutdown = (signal: string) => {
      logger.info('shutting down', { signal });
      watcher?.stop();
      gateway.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error('shutdown failed', { error: (err as Error).message });
          process.exit(1);
        },
      );
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });

registerSimCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`heat-gateway: ${(err as Error).message}\n`);
  process.exit(1);
});
