/**
 * /metrics is what Prometheus accepts (`promtool check metrics`, when promtool is on PATH;
 * CI installs it and the test refuses to skip it there), and every metric the gateway
 * declares moves in the scenario it describes: a full gateway (strategies, reads, webhooks,
 * event streams, rate limit) against the simulator, with one backend failure.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { Metrics } from '../../../src/metrics/metrics.js';
import { defaultModules } from '../../../src/modules.js';
import { startSimulator, type Simulator } from '../../../src/sim/simulator.js';
import type { Gateway } from '../../../src/gateway.js';
import { bearer, startTestGateway, testConfig, TOKENS } from '../../helpers/gateway.js';
import { send } from '../../helpers/http.js';
import { waitFor } from '../../helpers/redis.js';
import { startReceiver, api, type Receiver } from '../../helpers/webhook-receiver.js';
import { FAST_STRATEGY_OPTIONS, simBackends } from '../../helpers/world.js';
import { openSse, type SseConnection } from '../api/sse-client.js';

const FLOOD_TOKEN = 'flood-token-0123456789abcdef';

function promtoolPath(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

/** Sample values by metric name (labels dropped, summed). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(line);
    if (!match) continue;
    out.set(match[1]!, (out.get(match[1]!) ?? 0) + Number(match[3]));
  }
  return out;
}

describe('/metrics', function () {
  this.timeout(60_000);
  let sim: Simulator;
  let gateway: Gateway;
  let url: string;
  let receiver: Receiver;
  let stream: SseConnection | undefined;
  const admin = bearer(TOKENS.admin);

  before(async () => {
    sim = await startSimulator({ seed: 11, deployments: 3, instancesPerDeployment: 2, changeRate: 0 });
    receiver = await startReceiver();
    const base = await testConfig();
    const config = await testConfig({
      auth: { tokens: [...base.auth.tokens, { name: 'flood', token: FLOOD_TOKEN, role: 'client' }], rateLimit: { perSecond: 20, burst: 20 } },
      // The Deltacloud backend runs its own strategy on the same cloud: it sees the servers Heat
      // owns, so the ownership rule has something to ignore (and count).
      backends: simBackends(sim).map((b) => (b.kind === 'deltacloud' ? { ...b, strategy: 'deltacloud-poll' } : b)),
      strategy: { name: 'cached-poll', ...FAST_STRATEGY_OPTIONS },
      webhooks: { allowNetworks: ['127.0.0.0/8'], retryScheduleMs: [0] },
    });
    ({ gateway, url } = await startTestGateway({ config, modules: defaultModules({ strategies: { retryBaseDelayMs: 5, convergeCheckMs: 200 } }) }));
  });

  after(async () => {
    stream?.drop();
    await gateway?.stop();
    await sim?.close();
    await receiver?.close();
  });

  it('declares no gauge named *_total and prefixes default metrics once', async () => {
    const text = await new Metrics().registry.metrics();
    for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      if (type !== 'counter') expect(name, `${type} ${name}`).to.not.match(/_total$/);
      expect(name).to.not.match(/^hgw_process_process_|^hgw_process_nodejs_/);
    }
    expect(text).to.match(/^hgw_process_cpu_seconds_total /m);
  });

  it('exports every metric the docs tell operators to alert on or watch', async () => {
    const declared = new Set([...(await new Metrics().registry.metrics()).matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    for (const doc of ['docs/operations.md', 'docs/api.md', 'README.md']) {
      for (const [name] of readFileSync(doc, 'utf8').matchAll(/\bhgw_[a-z0-9_]+/g)) {
        // A histogram's series carry _bucket, _count and _sum after its declared name; a
        // family prefix (`grep hgw_cache`) names the metrics it starts.
        const known = declared.has(name) || declared.has(name.replace(/_(bucket|count|sum)$/, '')) || [...declared].some((d) => d.startsWith(`${name}_`));
        expect(known, `${doc} names ${name}`).to.equal(true);
      }
    }
  });

  it('moves every declared metric in its scenario, and promtool accepts the exposition', async () => {
    // Webhook deliveries: an endpoint, then changes reach it.
    const created = await api(url, TOKENS.client, 'POST', '/v1/webhooks', { url: `${receiver.url}/hook` });
    expect(created.status).to.equal(201);
    // The strategy's polls: backend requests, durations, bytes, poll runs, observations, feed appends.
    await waitFor(async () => (await gateway.store.counts()).instances >= 6, { timeoutMs: 15_000, what: 'the initial sync' });
    sim.handle.applyChange('crash', sim.handle.world().instances[0]!.id, { crashTo: 'SHUTOFF' });
    await waitFor(() => receiver.received.length > 0, { timeoutMs: 15_000, what: 'a webhook delivery' });
    // Ownership: Deltacloud's listing of servers Heat owns is ignored and counted.
    await waitFor(async () => (await gateway.metrics.ownershipIgnored.get()).values.length > 0, { timeoutMs: 15_000, what: 'an ignored observation' });
    // Reads: request durations and the cache age gauge.
    expect((await send(url, 'GET', '/v1/instances', bearer(TOKENS.client))).status).to.equal(200);
    // An event stream open right now.
    stream = await openSse(url, '/v1/events/stream', bearer(TOKENS.client));
    // The rate limit refuses a flood.
    for (let i = 0; i < 40; i++) await send(url, 'GET', '/v1/events?limit=1', bearer(FLOOD_TOKEN));
    // A backend failure: backend errors and failed poll runs.
    sim.handle.setFaults({ heat: { outage: { durationMs: 60_000, mode: 'unavailable' } } });
    await waitFor(async () => ((await gateway.metrics.backendErrors.get()).values.length > 0), { timeoutMs: 15_000, what: 'a failed backend call' });
    sim.handle.clearFaults();

    const res = await send(url, 'GET', '/metrics', admin);
    expect(res.status).to.equal(200);
    const values = samples(res.text);
    const declared = [...res.text.matchAll(/^# TYPE (hgw_\S+) (\S+)$/gm)]
      .map(([, name, type]) => ({ name: name!, type: type! }))
      .filter((m) => !/^hgw_(process|nodejs)_/.test(m.name));
    expect(declared.map((m) => m.name)).to.include('hgw_feed_appends_total');
    for (const m of declared) {
      const value = m.type === 'histogram' ? values.get(`${m.name}_count`) : values.get(m.name);
      expect(value ?? 0, `${m.name} (${m.type}) did not move`).to.be.greaterThan(0);
    }

    const promtool = promtoolPath();
    if (!promtool) {
      expect(process.env.CI, 'CI must install promtool (Debian package prometheus)').to.equal(undefined);
      return;
    }
    const check = spawnSync(promtool, ['check', 'metrics'], { input: res.text, encoding: 'utf8' });
    expect(check.status, `promtool check metrics:\n${check.stdout}${check.stderr}`).to.equal(0);
  });
});
