import { expect } from 'chai';
import { freePort, startRedisServer, waitFor, type RedisServer } from '../../helpers/redis.js';
import { runCli, type CliProcess } from '../../helpers/process.js';

async function status(url: string): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3_000) });
  await res.arrayBuffer();
  return res.status;
}

describe('heat-gateway start --config config/default.yaml', function () {
  this.timeout(30_000);
  let redis: RedisServer;
  let gateway: CliProcess;
  let base: string;

  before(async () => {
    redis = await startRedisServer();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    gateway = runCli(['start', '--config', 'config/default.yaml'], {
      REDIS_URL: redis.url,
      HGW_SERVER__PORT: String(port),
      HGW_LOG__FORMAT: 'json',
    });
    await waitFor(async () => (await status(`${base}/healthz`)) === 200, { timeoutMs: 15_000, what: `gateway on ${base}\n${gateway.output()}` });
  });

  after(async () => {
    await gateway?.stop();
    await redis?.stop();
  });

  it('answers /healthz 200 and /readyz 200 with Redis up', async () => {
    expect(await status(`${base}/healthz`)).to.equal(200);
    await waitFor(async () => (await status(`${base}/readyz`)) === 200, { what: 'ready' });
  });

  it('answers /readyz 503 within 2 s of Redis stopping, and 200 again when it returns', async () => {
    await redis.stop();
    const started = Date.now();
    const res = await fetch(`${base}/readyz`);
    const elapsed = Date.now() - started;
    expect(res.status).to.equal(503);
    expect(res.headers.get('content-type')).to.match(/problem\+json/);
    expect(((await res.json()) as { checks: { redis: { ok: boolean } } }).checks.redis.ok).to.equal(false);
    expect(elapsed, 'readiness answer time').to.be.below(2_000);
    expect(await status(`${base}/healthz`)).to.equal(200);

    await redis.start();
    await waitFor(async () => (await status(`${base}/readyz`)) === 200, { timeoutMs: 10_000, what: 'readiness after Redis returned' });
  });

  it('logs JSON lines', () => {
    const lines = gateway.output().trim().split('\n').filter(Boolean);
    expect(lines.length).to.be.greaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line), line).to.not.throw();
    expect(gateway.output()).to.contain('heat-gateway listening');
    // config/default.yaml has neither: the operator is told what to configure.
    expect(gateway.output()).to.match(/no auth\.tokens are configured: every \/v1 and \/admin route answers 401; add tokens under auth\.tokens/);
    expect(gateway.output()).to.match(/no backends are configured: the cache stays empty; add backends\[\]/);
  });

  it('stops cleanly on SIGTERM', async () => {
    expect(await gateway.stop('SIGTERM')).to.equal(0);
  });
});

describe('heat-gateway start with a bad config', () => {
  it('exits 2 naming the key and the fix', async () => {
    const cli = runCli(['start'], { HGW_STRATEGY__NAME: 'cached-pol' });
    expect(await cli.exited).to.equal(2);
    expect(cli.output()).to.match(/HGW_STRATEGY__NAME: 'cached-pol' is unknown; use one of on-demand, cached-poll, webhook, deltacloud-poll \(the variable sets strategy\.name/);
  });
});
