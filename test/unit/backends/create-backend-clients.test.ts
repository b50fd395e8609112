import { expect } from 'chai';
import nock from 'nock';
import { createBackendClients, pingBackends } from '../../../src/backends/create-backend-clients.js';
import { DeltacloudClient } from '../../../src/backends/deltacloud-client.js';
import { HeatClient } from '../../../src/backends/heat-client.js';
import { silentLogger } from '../../../src/log/logger.js';
import {
  DC_URL,
  deltacloudConfig,
  fixtureText,
  HEAT_BASE,
  HEAT_URL,
  heatConfig,
  RecordingObserver,
  useNock,
} from './backend-test-helpers.js';

describe('createBackendClients', () => {
  useNock();

  it('builds one client per backend id with its kind, sharing the observer', async () => {
    const observer = new RecordingObserver();
    const clients = createBackendClients(
      [
        heatConfig({ keystone: undefined, endpoint: `${HEAT_URL}${HEAT_BASE}`, token: 'tok' }),
        deltacloudConfig(),
      ],
      silentLogger(),
      observer,
    );
    expect([...clients.keys()]).to.deep.equal(['heat-east', 'dc-ec2']);
    expect(clients.get('heat-east')).to.be.instanceOf(HeatClient);
    expect(clients.get('dc-ec2')).to.be.instanceOf(DeltacloudClient);
    expect(clients.get('heat-east')!.kind).to.equal('heat');
    expect(clients.get('dc-ec2')!.kind).to.equal('deltacloud');

    const heat = nock(HEAT_URL).get(`${HEAT_BASE}/stacks`).query({ limit: 1 }).reply(200, { stacks: [] }, { 'content-type': 'application/json' });
    const dc = nock(DC_URL).get('/api').reply(502, fixtureText('deltacloud/proxy-502.html'), { 'content-type': 'text/html' });
    const results = await pingBackends(clients);
    expect(heat.isDone() && dc.isDone()).to.equal(true);
    expect(results.map((r) => [r.id, r.kind, r.ok])).to.deep.equal([
      ['heat-east', 'heat', true],
      ['dc-ec2', 'deltacloud', false],
    ]);
    expect(results[1]!.error).to.contain('HTTP 502');
    // Pings run in parallel, so events arrive in either order.
    const byBackend = new Map(observer.events.map((e) => [e.backend, e]));
    expect(observer.events).to.have.length(2);
    expect(byBackend.get('heat-east')).to.deep.include({ call: 'heat.ping', method: 'GET', status: 200, attempt: 1 });
    expect(byBackend.get('heat-east')!.error).to.equal(undefined);
    expect(byBackend.get('dc-ec2')).to.deep.include({ call: 'deltacloud.getApi', method: 'GET', status: 502, error: 'http' });
    expect(byBackend.get('dc-ec2')!.bytes).to.be.greaterThan(0);
  });
});
