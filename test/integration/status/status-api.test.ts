/**
 * The status page over plain HTTP: what a request without a token may see (the sign-in page,
 * no data), what each role gets, the JSON snapshot's figures (cache ages, webhook backlog,
 * replicas) and the live stream.
 */
import { expect } from 'chai';
import { Gateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/log/logger.js';
import { defaultModules } from '../../../src/modules.js';
import { statusSnapshotSchema, type StatusSnapshot } from '../../../src/status/status-schema.js';
import { bearer, testConfig, TOKENS } from '../../helpers/gateway.js';
import { send } from '../../helpers/http.js';
import { deploymentObs, instanceObs } from '../../helpers/observations.js';
import { waitFor } from '../../helpers/redis.js';
import { api, startReceiver, type Receiver } from '../../helpers/webhook-receiver.js';
import { openSse } from '../api/sse-client.js';

const SECRET_LOOKING_ID = 'srv-visible-only-with-a-token';

describe('status page over HTTP', function () {
  this.timeout(30_000);
  let gateway: Gateway;
  let url: string;
  let receiver: Receiver;
  const started: Gateway[] = [];

  async function startGateway(config?: Awaited<ReturnType<typeof testConfig>>): Promise<{ gateway: Gateway; url: string }> {
    const g = new Gateway({
      config: config ?? (await testConfig({ webhooks: { allowNetworks: ['127.0.0.0/8'], retryScheduleMs: [0, 600_000], jitter: 0 } })),
      logger: silentLogger(),
      modules: defaultModules({ status: { beatMs: 200, stream: { intervalMs: 200 } } }),
    });
    started.push(g);
    return { gateway: g, url: await g.start() };
  }

  before(async () => {
    ({ gateway, url } = await startGateway());
    receiver = await startReceiver((_r, res) => void res.writeHead(500).end());
    const nowMs = gateway.now();
    await gateway.store.observeDeployment(deploymentObs({ id: 'dep-1' }), { source: 'cached-poll' });
    // One instance per age bucket: < 1 s, < 10 s, < 1 min, older.
    for (const [i, ageMs] of [200, 5_000, 30_000, 600_000].entries()) {
      const id = i === 0 ? SECRET_LOOKING_ID : `srv-${i}`;
      await gateway.store.observeInstances([instanceObs({ id, deploymentId: 'dep-1' })], { source: 'cached-poll', observedAtMs: nowMs - ageMs });
    }
  });

  after(async () => {
    for (const g of started) await g.stop();
    await receiver.close();
  });

  const snapshot = async (token: string = TOKENS.client): Promise<StatusSnapshot> => {
    const res = await api(url, token, 'GET', '/status/snapshot');
    expect(res.status, JSON.stringify(res.json)).to.equal(200);
    return statusSnapshotSchema.parse(res.json);
  };

  it('GET / and /status without a token: the sign-in page, 200, and no data at all', async () => {
    for (const path of ['/', '/status']) {
      const res = await send(url, 'GET', path, {});
      expect(res.status).to.equal(200);
      expect(res.headers['content-type']).to.match(/^text\/html/);
      expect(res.headers['content-security-policy']).to.contain("script-src 'self'").and.contain("connect-src 'self'");
      expect(res.text).to.contain('id="sign-in"');
      for (const secret of [SECRET_LOOKING_ID, 'cached-poll', 'sec-summary', 'dep-1', 'replica']) expect(res.text, secret).not.to.contain(secret);
      // The token field cannot be submitted into a URL: it has no name.
      expect(res.text).to.match(/<input id="token" type="password"(?![^>]*name=)[^>]*>/);
    }
  });

  it('data routes need a token as before; a bad token is 401, a backend token 403', async () => {
    for (const path of ['/status/view', '/status/snapshot', '/status/stream']) {
      const res = await send(url, 'GET', path, {});
      expect(res.status, path).to.equal(401);
      expect(res.headers['content-type']).to.match(/problem\+json/);
    }
    expect((await send(url, 'GET', '/', bearer('not-a-token'))).status).to.equal(401);
    expect((await send(url, 'GET', '/status', bearer(TOKENS.backend))).status).to.equal(403);
    expect((await send(url, 'GET', '/status/snapshot', bearer(TOKENS.backend))).status).to.equal(403);
  });

  it('with a token the page is rendered in full on the server; only admins get the controls', async () => {
    const client = await send(url, 'GET', '/status', bearer(TOKENS.client));
    expect(client.status).to.equal(200);
    expect(client.text).to.contain('id="kpi-instances">4<');
    expect(client.text).to.contain('test-client').and.not.contain('data-action=');
    const admin = await send(url, 'GET', '/', bearer(TOKENS.admin));
    expect(admin.text).to.contain('data-action="switch-strategy"');
    const fragment = await send(url, 'GET', '/status/view', bearer(TOKENS.admin));
    expect(fragment.text).to.contain('id="sec-webhooks"').and.not.contain('<html');
    for (const asset of ['/status/assets/status.css', '/status/assets/status.js']) {
      const res = await send(url, 'GET', asset, {});
      expect(res.status, asset).to.equal(200);
      expect(res.text.length).to.be.greaterThan(1_000);
    }
  });

  it('counts the cache by age of the last observation', async () => {
    // A gateway of its own, so no other test's instances age into the buckets.
    const own = await startGateway(await testConfig());
    const observe = (id: string, ageMs: number, name = 'web') =>
      own.gateway.store.observeInstances([instanceObs({ id, deploymentId: 'dep-a', name })], { source: 'cached-poll', observedAtMs: Date.now() - ageMs });
    for (const [id, ageMs] of [['age-10s', 4_000], ['age-1m', 30_000], ['age-old', 600_000]] as const) await observe(id, ageMs);
    let round = 0;
    const s = (await waitFor(
      async () => {
        // Freshly changed before each look, so even a slow machine sees it under a second old.
        await observe('age-1s', 0, `web-${(round += 1)}`);
        const current = statusSnapshotSchema.parse((await api(own.url, TOKENS.client, 'GET', '/status/snapshot')).json);
        return current.cache.ages?.under1s === 1 ? current : undefined;
      },
      { what: 'an age count with the fresh instance', timeoutMs: 10_000, intervalMs: 200 },
    ))!;
    expect(s.cache.ages).to.deep.equal({ under1s: 1, under10s: 1, under1m: 1, older: 1 });
    expect(s.cache).to.include({ instances: 4, deployments: 0, vanished: 0 });
    expect(s.viewer).to.deep.equal({ name: 'test-client', role: 'client', canControl: false });
    expect((await snapshot(TOKENS.admin)).viewer.canControl).to.equal(true);
    await own.gateway.stop();
  });

  it('shows a failing endpoint with its backlog while it retries', async () => {
    const created = await api(url, TOKENS.client, 'POST', '/v1/webhooks', { url: `${receiver.url}/hook`, events: ['webhook.test'] });
    const id = (created.json as { id: string }).id;
    expect((await api(url, TOKENS.client, 'POST', `/v1/webhooks/${id}/test`)).status).to.equal(202);
    const endpoint = (await waitFor(
      async () => (await snapshot()).webhooks.find((w) => w.id === id && w.attempts === 1 && w.backlog === 1),
      { what: 'the first failed attempt, with the retry waiting', timeoutMs: 10_000 },
    ))!;
    expect(endpoint).to.include({ state: 'failing', successRate: 0, deadLetters: 0, backlogCapped: false, enabled: true });
    expect(endpoint.p99LatencyMs).to.be.a('number');
    expect(endpoint.failingSince).to.be.a('string');
  });

  it('lists the replicas alive: a second replica appears, and leaves at once when it stops', async () => {
    const second = await startGateway(gateway.config);
    const both = (await waitFor(async () => {
      const s = await snapshot();
      return s.replicas.length === 2 ? s : undefined;
    }, { what: 'two replicas' }))!;
    expect(both.replicas.filter((r) => r.self)).to.have.length(1);
    expect(both.replicas.every((r) => r.version === both.version && r.strategy === 'cached-poll')).to.equal(true);
    await second.gateway.stop();
    // Within the poll's 5 s, well before a silent replica would time out (10 s).
    await waitFor(async () => (await snapshot()).replicas.length === 1, { what: 'the stopped replica to leave' });
  });

  it('streams every section first, then only what changed', async () => {
    const stream = await openSse(url, '/status/stream', bearer(TOKENS.client));
    try {
      expect(stream.status).to.equal(200);
      const first = (await waitFor(() => stream.messages.find((m) => m.event === 'sections'), { what: 'the first update' }))!;
      const sections = Object.keys((JSON.parse(first.data) as { sections: Record<string, string> }).sections);
      expect(sections).to.include.members(['sec-summary', 'sec-strategy', 'sec-backends', 'sec-cache', 'sec-feed', 'sec-webhooks', 'sec-queues', 'sec-replicas']);
      expect(first.data).not.to.contain('data-action');

      const seen = stream.messages.length;
      await gateway.store.observeInstances([instanceObs({ id: 'srv-new', deploymentId: 'dep-1' })], { source: 'cached-poll' });
      const update = (await waitFor(
        () => stream.messages.slice(seen).find((m) => m.event === 'sections' && m.data.includes('id=\\"kpi-instances\\">5<')),
        { what: 'an update with the new instance count' },
      ))!;
      const changed = Object.keys((JSON.parse(update.data) as { sections: Record<string, string> }).sections);
      expect(changed.length, 'only changed sections are sent').to.be.lessThan(sections.length);
    } finally {
      stream.drop();
    }
  });
});
