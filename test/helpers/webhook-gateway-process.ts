/**
 * Test-only entry: a gateway process running the webhook module, for crash tests.
 * Config from the YAML file named by HGW_CONFIG (plus HGW_* / REDIS_URL overrides);
 * module options from WEBHOOK_TEST_CLAIM_IDLE_MS, WEBHOOK_TEST_LEASE_MS, WEBHOOK_TEST_LOCK_MS.
 * Prints one JSON line `{"url": …}` once listening.
 */
import { loadConfig } from '../../src/config/load.js';
import { Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log/logger.js';
import { createWebhookModule } from '../../src/webhooks/create-webhook-module.js';

const config = loadConfig(process.env.HGW_CONFIG);
const num = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
const claimIdleMs = num('WEBHOOK_TEST_CLAIM_IDLE_MS');
const leaseMs = num('WEBHOOK_TEST_LEASE_MS');
const lockDurationMs = num('WEBHOOK_TEST_LOCK_MS');
const gateway = new Gateway({
  config,
  logger: createLogger({ ...config.log, format: 'json' }),
  modules: [
    (gw) =>
      createWebhookModule(gw, {
        ...(claimIdleMs !== undefined ? { claimIdleMs } : {}),
        ...(leaseMs !== undefined ? { leaseMs } : {}),
        ...(lockDurationMs !== undefined ? { lockDurationMs } : {}),
      }),
  ],
});
const url = await gateway.start();
process.stdout.write(`${JSON.stringify({ url })}\n`);
process.on('SIGTERM', () => void gateway.stop().then(() => process.exit(0)));
