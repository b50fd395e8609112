/**
 * The Conductor integration kit, run for real: the Ruby receiver (Debian's `ruby`, standard
 * library only) and the Node one (`standardwebhooks`) against a live gateway. Each must
 * verify every live delivery, refuse a tampered body and a stale timestamp, and, after being
 * stopped while events kept coming (their deliveries dead-lettered meanwhile), resume from
 * the feed with every event processed exactly once and the newest version of everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Gateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/log/logger.js';
import { defaultModules } from '../../../src/modules.js';
import { newEventId } from '../../../src/store/state-store.js';
import { webhookHeaders } from '../../../src/webhooks/webhook-signer.js';
import { testConfig, TOKENS } from '../../helpers/gateway.js';
import { instanceObs } from '../../helpers/observations.js';
import { freePort, waitFor } from '../../helpers/redis.js';
import { api } from '../../helpers/webhook-receiver.js';

const RECEIVERS = [
  { name: 'Ruby', command: 'ruby', args: ['examples/ruby/receiver.rb'] },
  { name: 'Node', command: process.execPath, args: ['examples/node/receiver.mjs'] },
];
const INSTANCES = 30;

interface Line {
  event?: string;
  via?: string;
  outcome?: string;
  webhookId?: string | null;
  verified?: boolean;
}

const lines = (file: string): Line[] =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line) : [];

for (const receiverSpec of RECEIVERS) {
  describe(`${receiverSpec.name} receiver example against a live gateway`, function () {
    this.timeout(120_000);
    let gateway: Gateway;
    let url: string;
    let stateDir: string;
    let port: number;
    let webhook: { id: string; secret: string; startCursor: string };
    let child: ChildProcess | undefined;
    let round = 0;

    async function startReceiver(): Promise<void> {
      const proc = spawn(receiverSpec.command, receiverSpec.args, {
        env: {
          ...process.env,
          PORT: String(port),
          HGW_URL: url,
          HGW_TOKEN: TOKENS.client,
          HGW_WEBHOOK_SECRETS: webhook.secret,
          STATE_DIR: stateDir,
          HGW_START_CURSOR: webhook.startCursor,
          CATCHUP_INTERVAL_S: '30',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = proc;
      let output = '';
      proc.stdout!.on('data', (c: Buffer) => (output += c.toString()));
      proc.stderr!.on('data', (c: Buffer) => (output += c.toString()));
      await waitFor(() => output.includes('listening on') || proc.exitCode !== null, { timeoutMs: 15_000, what: `${receiverSpec.name} receiver to listen` });
      expect(proc.exitCode, output).to.equal(null);
    }

    async function stopReceiver(): Promise<void> {
      const proc = child;
      if (!proc || proc.exitCode !== null) return;
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGTERM');
      await exited;
    }

    /** `count` real changes through the store's one write path: each is one feed event. */
    async function produce(count: number): Promise<void> {
      for (let done = 0; done < count; ) {
        round += 1;
        const batch = Math.min(INSTANCES, count - done);
        const observations = Array.from({ length: batch }, (_, i) =>
          instanceObs({ id: `srv-${i}`, state: round % 2 ? 'running' : 'stopped', addresses: { public: [`10.0.${round % 250}.${i}`], private: [] } }),
        );
        await gateway.store.observeInstances(observations, { source: 'cached-poll' });
        done += batch;
      }
    }

    /** Every feed event since the endpoint was created. */
    async function feedIds(): Promise<string[]> {
      const ids: string[] = [];
      let after = webhook.startCursor;
      for (;;) {
        const page = await gateway.feed.read(after, 1_000);
        for (const entry of page.entries) ids.push((JSON.parse(entry.json) as { id: string }).id);
        if (page.entries.length === 0) return ids;
        after = page.next;
      }
    }

    const processed = () => lines(join(stateDir, 'processed.jsonl'));
    const requests = () => lines(join(stateDir, 'requests.jsonl'));

    async function post(body: string, headers: Record<string, string>): Promise<number> {
      const res = await fetch(`http://127.0.0.1:${port}/hooks`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      await res.arrayBuffer();
      return res.status;
    }

    before(async () => {
      const config = await testConfig({ webhooks: { allowNetworks: ['127.0.0.0/8'], retryScheduleMs: [0, 200, 400], jitter: 0, timeoutMs: 2_000 } });
      gateway = new Gateway({ config, logger: silentLogger(), modules: defaultModules() });
      url = await gateway.start();
      stateDir = mkdtempSync(join(tmpdir(), 'hgw-receiver-'));
      port = await freePort();
      const created = await api(url, TOKENS.client, 'POST', '/v1/webhooks', { url: `http://127.0.0.1:${port}/hooks`, description: `${receiverSpec.name} example` });
      expect(created.status, JSON.stringify(created.json)).to.equal(201);
      webhook = created.json as typeof webhook;
      await startReceiver();
    });

    after(async () => {
      await stopReceiver();
      await gateway?.stop();
      if (stateDir) rmSync(stateDir, { recursive: true, force: true });
    });

    it('verifies every live delivery and processes each event once', async () => {
      // The receiver's start-up catch-up is done once it saved its cursor; its next one is
      // 30 s away, so what follows reaches it as webhook deliveries.
      await waitFor(() => existsSync(join(stateDir, 'state.json')), { timeoutMs: 15_000, what: 'the start-up catch-up' });
      await produce(240);
      const expected = await feedIds();
      expect(expected.length).to.equal(240);
      await waitFor(() => new Set(processed().map((l) => l.event)).size >= expected.length, { timeoutMs: 30_000, what: 'every event processed' });
      expect(processed().map((l) => l.event).sort()).to.deep.equal([...expected].sort());
      await waitFor(() => requests().filter((r) => r.verified).length >= expected.length, { timeoutMs: 30_000, what: 'every delivery verified' });
      const received = requests();
      expect(received.filter((r) => !r.verified), 'deliveries refused').to.deep.equal([]);
      expect(processed().filter((l) => l.via === 'webhook').length).to.equal(expected.length);
    });

    it('refuses a tampered body and a stale timestamp, and acknowledges a duplicate without processing it again', async () => {
      const id = newEventId();
      const body = JSON.stringify({ type: 'instance.updated', timestamp: new Date().toISOString(), data: { id: 'srv-0', current: { id: 'srv-0', version: 999 } } });
      const now = Math.floor(Date.now() / 1_000);
      expect(await post(body.replace('999', '1000'), webhookHeaders([webhook.secret], id, now, body)), 'tampered body').to.be.oneOf([400, 401]);
      expect(await post(body, webhookHeaders([webhook.secret], id, now - 600, body)), 'stale timestamp').to.be.oneOf([400, 401]);
      expect(await post(body, webhookHeaders(['whsec_' + Buffer.alloc(32, 7).toString('base64')], id, now, body)), 'wrong secret').to.be.oneOf([400, 401]);
      expect(processed().some((l) => l.event === id)).to.equal(false);
      expect(requests().filter((r) => !r.verified)).to.have.length(3);

      // A genuine repeat of an event already processed (at-least-once delivery).
      const seen = processed()[0]!.event!;
      const repeat = JSON.stringify({ type: 'instance.updated', timestamp: new Date().toISOString(), data: { id: 'srv-1', current: { id: 'srv-1', version: 1 } } });
      const before = processed().length;
      expect(await post(repeat, webhookHeaders([webhook.secret], seen, now, repeat))).to.equal(204);
      expect(processed().length).to.equal(before);
    });

    it('resumes from the feed after being stopped for a while: no event missed or doubled, newest versions kept', async () => {
      await stopReceiver();
      await produce(90);
      // Meanwhile the gateway tried, retried and dead-lettered every delivery to the stopped receiver.
      const hooks = gateway.modules.find((m) => m.name === 'webhooks') as unknown as { idle(): Promise<boolean> };
      await waitFor(() => hooks.idle(), { timeoutMs: 30_000, what: 'the deliveries to the stopped receiver to give up' });
      const dead = await api(url, TOKENS.client, 'GET', `/v1/webhooks/${webhook.id}/dead-letters?limit=1000`);
      expect((dead.json as { items: unknown[] }).items.length, 'deliveries missed while stopped').to.be.greaterThan(0);

      await startReceiver();
      const expected = await feedIds();
      expect(expected.length).to.equal(330);
      await waitFor(() => new Set(processed().map((l) => l.event)).size >= expected.length, { timeoutMs: 30_000, what: 'the catch-up from the feed' });
      const events = processed().map((l) => l.event!);
      expect(events.length, 'each event processed once').to.equal(new Set(events).size);
      expect([...events].sort()).to.deep.equal([...expected].sort());
      expect(processed().filter((l) => l.via === 'feed').length).to.be.at.least(1);

      const saved = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { versions: Record<string, number> };
      for (let i = 0; i < INSTANCES; i++) {
        expect(saved.versions[`instance:srv-${i}`], `srv-${i}`).to.equal((await gateway.store.getInstance(`srv-${i}`))!.version);
      }
      expect(requests().filter((r) => !r.verified), 'only the three forged requests were refused').to.have.length(3);
    });
  });
}
