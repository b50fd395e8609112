import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ChangeFeed } from '../../../src/store/change-feed.js';
import { TOKENS } from '../../helpers/gateway.js';
import { deletePrefix, sharedRedisUrl, testPrefix, testRedis, waitFor } from '../../helpers/redis.js';
import { api, startReceiver, verify, type Receiver } from '../../helpers/webhook-receiver.js';

interface Proc {
  child: ChildProcess;
  url: Promise<string>;
  output: () => string;
  exited: Promise<unknown>;
}

function spawnGateway(configFile: string, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/webhook-gateway-process.ts'], {
    env: { ...process.env, HGW_CONFIG: configFile, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /\{"url":"([^"]+)"\}/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`gateway exited ${code}\n${out}`)));
  });
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return { child, url, output: () => out, exited };
}

describe('webhook delivery across a SIGKILL', function () {
  this.timeout(90_000);
  let receiver: Receiver;
  let redis: Redis;
  const procs: Proc[] = [];
  const prefix = testPrefix();

  after(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await receiver?.close();
    if (redis) {
      await deletePrefix(redis, prefix);
      await redis.quit();
    }
  });

  it('every event is delivered after the process is killed mid-delivery and restarted', async () => {
    const redisUrl = await sharedRedisUrl();
    redis = new Redis(redisUrl);
    // Slow receiver: deliveries are in flight when the process dies.
    receiver = await startReceiver((_r, res) => void setTimeout(() => res.writeHead(204).end(), 20));
    const dir = mkdtempSync(join(tmpdir(), 'hgw-crash-'));
    const configFile = join(dir, 'config.yaml');
    writeFileSync(
      configFile,
      JSON.stringify({
        server: { port: 0, shutdownGraceMs: 500 },
        redis: { url: redisUrl, keyPrefix: prefix },
        auth: { tokens: [{ name: 'client', token: TOKENS.client, role: 'client' }] },
        webhooks: { allowNetworks: ['127.0.0.0/8'], retryScheduleMs: [0, 100, 200, 400, 800, 1_600], jitter: 0, timeoutMs: 1_000, concurrency: 10 },
        log: { level: 'warn', format: 'json' },
      }),
    );
    const env = { WEBHOOK_TEST_CLAIM_IDLE_MS: '500', WEBHOOK_TEST_LEASE_MS: '1000', WEBHOOK_TEST_LOCK_MS: '2000' };
    const first = spawnGateway(configFile, env);
    procs.push(first);
    const base = await first.url;
    const created = await api(base, TOKENS.client, 'POST', '/v1/webhooks', { url: receiver.url });
    expect(created.status, JSON.stringify(created.json)).to.equal(201);
    const secret = created.json.secret as string;

    const feed = new ChangeFeed(redis, prefix, { maxLength: 1_000_000, maxAgeMs: 86_400_000 });
    const events: string[] = [];
    for (let i = 0; i < 300; i++) events.push((await feed.append('instance.updated', { current: { id: `srv-${i % 7}`, version: i + 1 }, previous: null }, { subject: `srv-${i % 7}`, deploymentId: 'stack-1' })).id);
    await waitFor(() => receiver.received.length >= 30, { timeoutMs: 20_000, what: `some deliveries\n${first.output()}` });
    first.child.kill('SIGKILL');
    await first.exited;
    const deliveredBeforeKill = new Set(receiver.received.map((r) => r.headers['webhook-id'])).size;
    expect(deliveredBeforeKill, 'killed mid-way').to.be.below(300);

    const second = spawnGateway(configFile, env);
    procs.push(second);
    await second.url;
    await waitFor(() => new Set(receiver.received.map((r) => r.headers['webhook-id'])).size === 300, {
      timeoutMs: 60_000,
      what: `all 300 events after restart\n${second.output()}`,
    });
    for (const r of receiver.received) verify(secret, r);
    expect([...new Set(receiver.received.map((r) => r.headers['webhook-id']))].sort()).to.deep.equal([...events].sort());
    second.child.kill('SIGTERM');
  });
});

describe('fan-out after a consumer died holding feed entries', function () {
  this.timeout(30_000);

  it('claims the pending entries of a dead consumer (XAUTOCLAIM) and delivers them once', async () => {
    const { startHarness } = await import('./webhook-harness.js');
    const { CONSUMER_GROUP } = await import('../../../src/webhooks/feed-fanout.js');
    const h = await startHarness();
    try {
      const receiver = await h.receiver();
      const hook = await h.register({ url: receiver.url });
      // Stop this gateway's fan-out so a "crashed" consumer can take the next entries.
      await h.module.fanout.stop();
      const events = await h.append(5);
      const feedKey = h.gateway.feed.keys.feed;
      const read = (await testRedis(h.gateway.config.redis.url).xreadgroup('GROUP', CONSUMER_GROUP, 'crashed-replica', 'COUNT', 100, 'STREAMS', feedKey, '>')) as [string, unknown[]][];
      expect(read[0]![1]).to.have.length(5);
      // The crashed consumer never acknowledges; a live fan-out claims them once idle.
      await h.module.fanout.start();
      await waitFor(() => receiver.received.length === 5, { timeoutMs: 10_000, what: 'claimed deliveries' });
      await waitFor(() => h.module.idle(), { what: 'idle' });
      expect(receiver.received.map((r) => r.headers['webhook-id'])).to.have.members(events);
      for (const r of receiver.received) verify(hook.secret, r);
      const pending = (await testRedis(h.gateway.config.redis.url).xpending(feedKey, CONSUMER_GROUP)) as [number];
      expect(pending[0]).to.equal(0);
    } finally {
      await h.stop();
    }
  });
});
