/** An in-process gateway on an ephemeral port with its own key prefix, for integration tests. */
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { Gateway, type ModuleFactory } from '../../src/gateway.js';
import { silentLogger, type Logger } from '../../src/log/logger.js';
import { sharedRedisTopology, sharedRedisUrl, testPrefix } from './redis.js';

export const TOKENS = {
  client: 'client-token-0123456789abcdef',
  admin: 'admin-token-0123456789abcdef',
  backend: 'backend-token-0123456789abcdef',
} as const;

export async function testConfig(overrides: Record<string, unknown> = {}): Promise<Config> {
  const url = await sharedRedisUrl();
  return parseConfig({
    server: { port: 0, shutdownGraceMs: 500 },
    redis: { url, keyPrefix: testPrefix(), ...(await sharedRedisTopology()) },
    auth: {
      tokens: Object.entries(TOKENS).map(([role, token]) => ({ name: `test-${role}`, token, role })),
    },
    webhooks: { allowNetworks: ['127.0.0.0/8', '::1/128'] },
    log: { level: 'error', format: 'json' },
    ...overrides,
  });
}

export async function startTestGateway(
  options: { config?: Config; modules?: ModuleFactory[]; logger?: Logger; now?: () => number } = {},
): Promise<{ gateway: Gateway; url: string; config: Config }> {
  const config = options.config ?? (await testConfig());
  const gateway = new Gateway({
    config,
    logger: options.logger ?? silentLogger(),
    ...(options.modules ? { modules: options.modules } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const url = await gateway.start();
  return { gateway, url, config };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
