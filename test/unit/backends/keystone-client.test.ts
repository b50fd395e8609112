import { expect } from 'chai';
import nock from 'nock';
import { HeatClient } from '../../../src/backends/heat-client.js';
import { passwordAuthBody } from '../../../src/backends/keystone-client.js';
import { silentLogger } from '../../../src/log/logger.js';
import {
  capturingLogger,
  fixtureJson,
  HEAT_BASE,
  HEAT_URL,
  heatConfig,
  KEYSTONE_URL,
  SECRET_PASSWORD,
  SUBJECT_TOKEN,
  TENANT,
  tokenBody,
  useNock,
  failure,
} from './backend-test-helpers.js';

const EMPTY_STACKS = { stacks: [] };
const JSON_CT = { 'content-type': 'application/json' };

const PROJECT_ID_BODY = {
  auth: {
    identity: {
      methods: ['password'],
      password: { user: { name: 'conductor', domain: { name: 'Default' }, password: SECRET_PASSWORD } },
    },
    scope: { project: { id: TENANT } },
  },
};

function keystone(times = 1, token = SUBJECT_TOKEN, expiresAt?: string) {
  return nock(KEYSTONE_URL)
    .post('/v3/auth/tokens', PROJECT_ID_BODY)
    .times(times)
    .matchHeader('content-type', /application\/json/)
    .reply(201, tokenBody(expiresAt), { ...JSON_CT, 'X-Subject-Token': token });
}

function heatStacks(token: string, times = 1, host = HEAT_URL) {
  return nock(host).get(`${HEAT_BASE}/stacks`).query({ limit: 100 }).times(times).matchHeader('x-auth-token', token).reply(200, EMPTY_STACKS, JSON_CT);
}

describe('keystone-client', () => {
  useNock();

  it('authenticates with a project-id scope and uses X-Subject-Token against the catalog endpoint', async () => {
    const ks = keystone();
    const heat = heatStacks(SUBJECT_TOKEN);
    const client = new HeatClient(heatConfig(), { logger: silentLogger() });
    expect(await client.listStacks()).to.deep.equal([]);
    expect(ks.isDone()).to.equal(true);
    expect(heat.isDone()).to.equal(true);
  });

  it('scopes by project name plus domain when no project id is configured', () => {
    const cfg = heatConfig({
      keystone: { url: KEYSTONE_URL, username: 'u', password: 'p', userDomain: 'corp', projectName: 'aeolus', projectDomain: 'corp' },
    });
    expect(passwordAuthBody(cfg.keystone!)).to.deep.equal({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'u', domain: { name: 'corp' }, password: 'p' } } },
        scope: { project: { name: 'aeolus', domain: { name: 'corp' } } },
      },
    });
  });

  it('names the user by id when keystone.userId is configured (no user domain), as Keystone v3 allows', () => {
    const cfg = heatConfig({ keystone: { url: KEYSTONE_URL, userId: 'a1b2c3', password: 'p', projectId: TENANT } });
    expect(passwordAuthBody(cfg.keystone!)).to.deep.equal({
      auth: {
        identity: { methods: ['password'], password: { user: { id: 'a1b2c3', password: 'p' } } },
        scope: { project: { id: TENANT } },
      },
    });
  });

  it('picks the endpoint by interface and region (trailing slash dropped)', async () => {
    const cfg = heatConfig({
      keystone: { url: KEYSTONE_URL, username: 'conductor', password: SECRET_PASSWORD, projectId: TENANT, region: 'RegionTwo' },
    });
    const ks = keystone();
    const heat = heatStacks(SUBJECT_TOKEN, 1, 'http://heat-two.example.com:8004');
    await new HeatClient(cfg, { logger: silentLogger() }).listStacks();
    expect(ks.isDone() && heat.isDone()).to.equal(true);
  });

  it('accepts a keystone.url that already ends in /v3', async () => {
    const cfg = heatConfig({ keystone: { url: `${KEYSTONE_URL}/v3/`, username: 'conductor', password: SECRET_PASSWORD, projectId: TENANT } });
    const ks = keystone();
    const heat = heatStacks(SUBJECT_TOKEN);
    await new HeatClient(cfg, { logger: silentLogger() }).listStacks();
    expect(ks.isDone() && heat.isDone()).to.equal(true);
  });

  it('concurrent callers share one in-flight authentication', async () => {
    const ks = keystone(1);
    const heat = heatStacks(SUBJECT_TOKEN, 3);
    const client = new HeatClient(heatConfig(), { logger: silentLogger() });
    await Promise.all([client.listStacks(), client.listStacks(), client.listStacks()]);
    expect(ks.isDone()).to.equal(true);
    expect(heat.isDone()).to.equal(true);
  });

  it('re-authenticates shortly before expires_at, not earlier', async () => {
    const issued = Date.parse('2030-01-01T11:00:00Z');
    let now = issued;
    const first = keystone(1, 'tok-1', '2030-01-01T12:00:00Z');
    const client = new HeatClient(heatConfig(), { logger: silentLogger(), now: () => now, refreshMarginMs: 60_000 });
    const h1 = heatStacks('tok-1', 2);
    await client.listStacks();
    now = issued + 30 * 60_000; // half-way: the token is still good
    await client.listStacks();
    expect(first.isDone() && h1.isDone()).to.equal(true);

    const second = keystone(1, 'tok-2', '2030-01-01T13:00:00Z');
    const h2 = heatStacks('tok-2');
    now = Date.parse('2030-01-01T11:59:30Z'); // inside the 60 s margin
    await client.listStacks();
    expect(second.isDone() && h2.isDone()).to.equal(true);
  });

  it('re-authenticates exactly once on a 401 from Heat and retries the call', async () => {
    const ks1 = keystone(1, 'tok-1');
    const rejected = nock(HEAT_URL)
      .get(`${HEAT_BASE}/stacks`)
      .query(true)
      .matchHeader('x-auth-token', 'tok-1')
      .reply(401, fixtureJson('keystone/unauthorized-401.json'), { ...JSON_CT, 'WWW-Authenticate': `Keystone uri="${KEYSTONE_URL}"` });
    const ks2 = keystone(1, 'tok-2');
    const ok = heatStacks('tok-2');
    await new HeatClient(heatConfig(), { logger: silentLogger() }).listStacks();
    expect([ks1, rejected, ks2, ok].every((s) => s.isDone())).to.equal(true);
  });

  it('does not loop when the fresh token is rejected too', async () => {
    const ks = keystone(2);
    const rejected = nock(HEAT_URL)
      .get(`${HEAT_BASE}/stacks`)
      .query(true)
      .times(2)
      .reply(401, fixtureJson('keystone/unauthorized-401.json'), JSON_CT);
    const third = nock(HEAT_URL).get(`${HEAT_BASE}/stacks`).query(true).reply(200, EMPTY_STACKS, JSON_CT);
    const err = await failure(new HeatClient(heatConfig(), { logger: silentLogger() }).listStacks());
    expect(err.reason).to.equal('auth');
    expect(err.upstreamStatus).to.equal(401);
    expect(ks.isDone() && rejected.isDone()).to.equal(true);
    expect(third.isDone()).to.equal(false);
  });

  it('a fixed endpoint + token skips Keystone; a 401 is final', async () => {
    const cfg = heatConfig({ keystone: undefined, endpoint: `${HEAT_URL}${HEAT_BASE}/`, token: 'static-token' });
    const ok = heatStacks('static-token');
    const client = new HeatClient(cfg, { logger: silentLogger() });
    await client.listStacks();
    expect(ok.isDone()).to.equal(true);
    nock(HEAT_URL).get(`${HEAT_BASE}/stacks`).query(true).reply(401, fixtureJson('keystone/unauthorized-401.json'), JSON_CT);
    const err = await failure(client.listStacks());
    expect(err.reason).to.equal('auth');
    expect(err.message).to.contain("replace 'token'");
  });

  it('bad credentials are an auth error and the POST is not retried', async () => {
    const ks = nock(KEYSTONE_URL).post('/v3/auth/tokens').reply(401, fixtureJson('keystone/unauthorized-401.json'), JSON_CT);
    const spare = nock(KEYSTONE_URL).post('/v3/auth/tokens').reply(201, tokenBody(), { ...JSON_CT, 'X-Subject-Token': 't' });
    const err = await failure(new HeatClient(heatConfig({ retries: 3 }), { logger: silentLogger() }).listStacks());
    expect(err.reason).to.equal('auth');
    expect(ks.isDone()).to.equal(true);
    expect(spare.isDone()).to.equal(false);
  });

  it('a token answer without X-Subject-Token or without an orchestration endpoint is a schema error', async () => {
    nock(KEYSTONE_URL).post('/v3/auth/tokens').reply(201, tokenBody(), JSON_CT);
    const noHeader = await failure(new HeatClient(heatConfig(), { logger: silentLogger() }).listStacks());
    expect(noHeader.reason).to.equal('schema');
    expect(noHeader.message).to.contain('X-Subject-Token');

    const cfg = heatConfig({
      keystone: { url: KEYSTONE_URL, username: 'conductor', password: SECRET_PASSWORD, projectId: TENANT, interface: 'admin' },
    });
    keystone();
    const noEndpoint = await failure(new HeatClient(cfg, { logger: silentLogger() }).listStacks());
    expect(noEndpoint.reason).to.equal('schema');
    expect(noEndpoint.message).to.contain("interface 'admin'");
  });

  it('never logs the password or the token', async () => {
    const { logger, lines } = capturingLogger();
    keystone(2);
    nock(HEAT_URL).get(`${HEAT_BASE}/stacks`).query(true).reply(401, fixtureJson('keystone/unauthorized-401.json'), JSON_CT);
    heatStacks(SUBJECT_TOKEN);
    await new HeatClient(heatConfig(), { logger }).listStacks();
    const out = lines.join('\n');
    expect(out).to.contain('keystone.auth');
    expect(out).not.to.contain(SECRET_PASSWORD);
    expect(out).not.to.contain(SUBJECT_TOKEN);
  });
});
