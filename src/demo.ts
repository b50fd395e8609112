/**
 * `heat-gateway demo`: everything on one machine with nothing configured. A local
 * `redis-server` (data under `.data/`, unless REDIS_URL is set), the simulator with a small
 * world, and the gateway on `cached-poll` against it; prints where to look; Ctrl-C stops all.
 * `--mixed`: two clouds instead, a Heat cloud on `webhook` and a Deltacloud-only cloud (a
 * second simulator) on `deltacloud-poll`, each backend on its own strategy.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseConfig } from './config/load.js';
import { Gateway } from './gateway.js';
import { createLogger, redactText, silentLogger } from './log/logger.js';
import { defaultModules } from './modules.js';
import { Stores } from './store/stores.js';
import { freePort, LocalRedisServer } from './redis/local-redis-server.js';
import { startSimulator } from './sim/simulator.js';
import { LocalRabbitMQServer, RABBITMQ_INSTALL_HINT, rabbitmqAvailable } from './push/local-rabbitmq-server.js';

export interface DemoOptions {
  /** Gateway port. @defaultValue 8080 (a free port when taken) */
  port: number;
  deployments: number;
  instancesPerDeployment: number;
  changeRate: number;
  strategy: string;
  dataDir: string;
  /** Two simulated clouds, one strategy each (a Heat cloud on webhook, a Deltacloud-only cloud on deltacloud-poll). */
  mixed?: boolean;
  /** Keep the previous run's cache, feed and webhooks. @defaultValue false */
  keepData?: boolean;
  /** How pushes arrive. @defaultValue 'zaqar' */
  push?: string;
}

const DEMO_PREFIX = '{hgw-demo}:';

async function portOrFree(port: number): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolvePort) => {
    const probe = createServer();
    probe.once('error', () => resolvePort(freePort()));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolvePort(port)));
  });
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  let redis: LocalRedisServer | undefined;
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    const dir = resolve(options.dataDir, 'redis');
    mkdirSync(dir, { recursive: true });
    try {
      redis = await LocalRedisServer.start({ dataDir: dir });
    } catch (err) {
      out(`heat-gateway demo needs Redis: ${(err as Error).message}`);
      process.exitCode = 1;
      return;
    }
    redisUrl = redis.url;
  }
  // A demo shows one world: the previous run's deployments and webhooks (still delivering to
  // receivers long gone) would mix with this one's. Only the demo's own prefix is touched.
  const keyspace = options.keepData ? 'kept from the previous run (--keep-data)' : 'emptied at start; pass --keep-data to keep it';
  if (!options.keepData) {
    const cleaner = Stores.fromConfig(parseConfig({ redis: { url: redisUrl, keyPrefix: DEMO_PREFIX } }), { logger: silentLogger(), now: Date.now });
    try {
      await cleaner.ready();
      await cleaner.deleteAll();
    } catch (err) {
      out(`heat-gateway demo cannot empty ${DEMO_PREFIX}* in Redis: ${(err as Error).message}`);
      await cleaner.close();
      await redis?.stop();
      process.exitCode = 1;
      return;
    }
    await cleaner.close();
  }
  let rabbit: LocalRabbitMQServer | undefined;
  if (options.push === 'amqp') {
    if (!rabbitmqAvailable()) {
      out(`heat-gateway demo --push amqp needs RabbitMQ: ${RABBITMQ_INSTALL_HINT}`);
      await redis?.stop();
      process.exitCode = 1;
      return;
    }
    out('starting a local RabbitMQ (about 6 s)…');
    rabbit = await LocalRabbitMQServer.start({ dataDir: resolve(options.dataDir, 'rabbitmq') });
  }
  const sim = await startSimulator({
    deployments: options.deployments,
    instancesPerDeployment: options.instancesPerDeployment,
    changeRate: options.changeRate,
    seed: 'demo',
    ...(rabbit ? { notifications: { amqpUrl: rabbit.url, novaFormat: 'both' as const } } : {}),
  });
  // The Deltacloud-only cloud of --mixed: a world of its own, reached only through Deltacloud.
  const dcSim = options.mixed
    ? await startSimulator({ deployments: options.deployments, instancesPerDeployment: options.instancesPerDeployment, changeRate: options.changeRate, seed: 'demo-dc' })
    : sim;
  const tokens = {
    client: `demo-client-${randomBytes(12).toString('hex')}`,
    admin: `demo-admin-${randomBytes(12).toString('hex')}`,
  };
  const port = await portOrFree(options.port);
  const c = sim.credentials;
  const config = parseConfig(
    {
      server: { host: '127.0.0.1', port },
      redis: { url: redisUrl, keyPrefix: DEMO_PREFIX },
      auth: {
        tokens: [
          { name: 'demo-conductor', token: tokens.client, role: 'client' },
          { name: 'demo-admin', token: tokens.admin, role: 'admin' },
        ],
      },
      backends: [
        {
          id: 'heat-sim',
          kind: 'heat',
          keystone: { url: sim.keystoneUrl, username: c.username, password: c.password, projectName: c.projectName },
          push: rabbit
            ? { amqp: { url: rabbit.url, queue: 'heat-gateway.heat-sim', topics: ['notifications.info', 'notifications.error', 'versioned_notifications.info'] } }
            : { subscriptionUrl: `${sim.zaqarUrl}/queues/heat-events/subscriptions`, signingSecret: randomBytes(16).toString('hex') },
          ...(options.mixed ? { strategy: 'webhook' } : {}),
        },
        {
          id: 'dc-sim',
          kind: 'deltacloud',
          url: dcSim.deltacloudUrl,
          username: dcSim.credentials.deltacloudUser,
          password: dcSim.credentials.deltacloudPassword,
          driver: dcSim.credentials.driver,
          ...(options.mixed ? { strategy: { name: 'deltacloud-poll', deltacloudPoll: { intervalMs: 10_000 } } } : {}),
        },
      ],
      // The AMQP consumer runs under the push strategy.
      strategy: { name: rabbit ? 'webhook' : options.strategy, cachedPoll: { intervalMs: 10_000, fastIntervalMs: 2_000 } },
      webhooks: { allowNetworks: ['127.0.0.0/8', '::1/128'] },
      log: { level: 'warn' },
    },
    'demo',
    process.env,
  );
  const logger = createLogger(config.log);
  const gateway = new Gateway({ config, logger, modules: defaultModules() });
  const url = await gateway.start();

  out('heat-gateway demo is running');
  const world = `${options.deployments} deployments × ${options.instancesPerDeployment} instances, ${options.changeRate} changes/s`;
  if (options.mixed) {
    out(`  gateway      ${url}  (a strategy per backend)`);
    out(`  status page  ${url}/  (sign in with the admin token)`);
    out(`  heat cloud   ${sim.url}  (backend heat-sim on webhook; ${world})`);
    out(`  dc cloud     ${dcSim.url}  (backend dc-sim on deltacloud-poll, Deltacloud only; ${world})`);
  } else {
    out(`  gateway      ${url}  (strategy ${config.strategy.name})`);
    out(`  status page  ${url}/  (sign in with the admin token)`);
    out(`  simulator    ${sim.url}  (${world})`);
  }
  out(`  redis        ${redisUrl}${redis ? `  (data in ${resolve(options.dataDir, 'redis')})` : ''}`);
  out(`  keyspace     ${DEMO_PREFIX}* ${keyspace}`);
  if (rabbit) out(`  rabbitmq     ${redactText(rabbit.url)}  (exchanges heat, nova; gateway queue heat-gateway.heat-sim; data in ${rabbit.dir})`);
  out(`  client token ${tokens.client}`);
  out(`  admin token  ${tokens.admin}`);
  out();
  out('Try:');
  out(`  curl -s -H 'Authorization: Bearer ${tokens.admin}' ${url}/admin/status`);
  out(`  curl -s -H 'Authorization: Bearer ${tokens.client}' '${url}/v1/instances?limit=5'`);
  const body = options.mixed ? '{"name":"cached-poll","backendId":"heat-sim"}' : '{"name":"webhook"}';
  out(`  curl -s -H 'Authorization: Bearer ${tokens.admin}' ${url}/admin/strategy`);
  out(`  curl -s -X PUT -H 'Authorization: Bearer ${tokens.admin}' -H 'Content-Type: application/json' -d '${body}' ${url}/admin/strategy`);
  out();
  out('Ctrl-C stops everything.');

  await new Promise<void>((resolveStop) => {
    const stop = () => resolveStop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  out('stopping…');
  await gateway.stop();
  await sim.close();
  if (dcSim !== sim) await dcSim.close();
  await rabbit?.stop();
  await redis?.stop();
  out('stopped');
}
