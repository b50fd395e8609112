import { expect } from 'chai';
import nock from 'nock';
import { DeltacloudClient } from '../../../src/backends/deltacloud-client.js';
import { silentLogger } from '../../../src/log/logger.js';
import { instanceObservationSchema } from '../../../src/model/types.js';
import { DC_URL, deltacloudConfig, fixtureJson, fixtureText, SECRET_PASSWORD, useNock, failure } from './backend-test-helpers.js';

const XML_CT = { 'content-type': 'application/xml' };
const JSON_CT = { 'content-type': 'application/json' };
const BASIC = `Basic ${Buffer.from(`AKIAEXAMPLE:${SECRET_PASSWORD}`).toString('base64')}`;

function client(overrides: Record<string, unknown> = {}) {
  return new DeltacloudClient(deltacloudConfig(overrides), { logger: silentLogger(), retryBaseDelayMs: 1 });
}

function dc(accept: 'application/xml' | 'application/json' = 'application/xml') {
  return nock(DC_URL, {
    reqheaders: {
      authorization: BASIC,
      accept,
      'x-deltacloud-driver': 'ec2',
      'x-deltacloud-provider': 'us-east-1',
    },
  });
}

const EXPECTED = [
  {
    id: 'i-1fbc627e',
    name: 'web-11111111-web_server',
    state: 'running',
    backend: { id: 'dc-ec2', kind: 'deltacloud', status: 'RUNNING' },
    addresses: { public: ['ec2-50-16-183-107.compute-1.amazonaws.com', '50.16.183.107'], private: ['10.196.89.221'] },
    updatedAt: null,
    raw: {
      name: 'web-11111111-web_server',
      ownerId: '393485797142',
      imageId: 'ami-f51aff9c',
      realmId: 'us-east-1c',
      launchTime: '2011-07-22T11:29:48.000Z',
      href: 'http://dc.example.com:3001/api/instances/i-1fbc627e',
    },
  },
  {
    id: '20112212',
    name: 'myserver',
    state: 'stopped',
    backend: { id: 'dc-ec2', kind: 'deltacloud', status: 'STOPPED' },
    addresses: { public: ['50.57.116.72'], private: ['10.182.143.64'] },
    updatedAt: null,
    raw: {
      name: 'myserver',
      ownerId: 'mandreou',
      imageId: '53',
      realmId: 'us',
      launchTime: '2011-07-22T11:32:25.000Z',
      href: 'http://dc.example.com:3001/api/instances/20112212',
    },
  },
  {
    id: 'i-cbb861aa',
    name: 'web-11111111-db_0',
    state: 'unknown',
    backend: { id: 'dc-ec2', kind: 'deltacloud', status: 'HIBERNATING' },
    addresses: { public: [], private: [] },
    updatedAt: null,
    raw: {
      name: 'web-11111111-db_0',
      ownerId: '393485797142',
      imageId: 'ami-f51aff9c',
      realmId: 'us-east-1c',
      launchTime: '2011-07-22T16:09:45.000Z',
      href: 'http://dc.example.com:3001/api/instances/i-cbb861aa',
    },
  },
];

describe('deltacloud-client', () => {
  useNock();

  describe('listInstances', () => {
    it('reads the XML representation with Basic auth and driver/provider headers', async () => {
      const scope = dc().get('/api/instances').reply(200, fixtureText('deltacloud/instances.xml'), XML_CT);
      const instances = await client().listInstances();
      expect(scope.isDone()).to.equal(true);
      expect(instances).to.deep.equal(EXPECTED);
    });

    it('reads the JSON representation (Accept: application/json) into identical canonical instances', async () => {
      const xmlScope = dc().get('/api/instances').reply(200, fixtureText('deltacloud/instances.xml'), XML_CT);
      const jsonScope = dc('application/json').get('/api/instances').reply(200, fixtureJson('deltacloud/instances.json'), JSON_CT);
      const fromXml = await client().listInstances();
      const fromJson = await client({ format: 'json' }).listInstances();
      expect(xmlScope.isDone() && jsonScope.isDone()).to.equal(true);
      expect(fromJson).to.deep.equal(fromXml);
    });

    it('every instance fits the canonical schema once a deployment is assigned', async () => {
      dc().get('/api/instances').reply(200, fixtureText('deltacloud/instances.xml'), XML_CT);
      for (const i of await client().listInstances()) {
        const { raw: _raw, ...obs } = i;
        expect(() => instanceObservationSchema.parse({ ...obs, deploymentId: 'unassigned' })).not.to.throw();
      }
    });

    it('an empty <instances/> collection is an empty list', async () => {
      dc().get('/api/instances').reply(200, "<?xml version='1.0' encoding='utf-8' ?>\n<instances>\n</instances>\n", XML_CT);
      expect(await client().listInstances()).to.deep.equal([]);
    });

    it('omits driver/provider headers when not configured', async () => {
      const scope = nock(DC_URL, { badheaders: ['x-deltacloud-driver', 'x-deltacloud-provider'] })
        .get('/api/instances')
        .reply(200, '<instances></instances>', XML_CT);
      await client({ driver: undefined, provider: undefined }).listInstances();
      expect(scope.isDone()).to.equal(true);
    });
  });

  describe('getInstance', () => {
    it('maps a single instance with one address per list', async () => {
      const scope = dc().get('/api/instances/20112212').reply(200, fixtureText('deltacloud/instance.xml'), XML_CT);
      const inst = await client().getInstance('20112212');
      expect(scope.isDone()).to.equal(true);
      expect(inst).to.deep.include({
        id: '20112212',
        state: 'pending',
        addresses: { public: ['50.57.116.72'], private: ['10.182.143.64'] },
      });
      expect(inst!.raw.launchTime).to.equal(null);
    });

    it('reads the JSON form of a single instance', async () => {
      const doc = fixtureJson<{ instances: unknown[] }>('deltacloud/instances.json');
      const scope = dc('application/json').get('/api/instances/i-1fbc627e').reply(200, { instance: doc.instances[0] }, JSON_CT);
      expect(await client({ format: 'json' }).getInstance('i-1fbc627e')).to.deep.equal(EXPECTED[0]);
      expect(scope.isDone()).to.equal(true);
    });

    it("is null for Deltacloud's own 404 error document", async () => {
      dc().get('/api/instances/i-gone').reply(404, fixtureText('deltacloud/error-404.xml'), XML_CT);
      expect(await client().getInstance('i-gone')).to.equal(null);
    });

    it('an XML error document becomes an http error carrying its message', async () => {
      dc().get('/api/instances/i-1').reply(500, fixtureText('deltacloud/error-500.xml'), XML_CT);
      const err = await failure(client().getInstance('i-1'));
      expect(err.reason).to.equal('http');
      expect(err.upstreamStatus).to.equal(500);
      expect(err.message).to.contain('AWS::AuthFailure: credentials rejected');
    });
  });

  describe('getApi', () => {
    it('reads the XML entry point', async () => {
      const scope = dc().get('/api').reply(200, fixtureText('deltacloud/api.xml'), XML_CT);
      const api = await client().getApi();
      expect(scope.isDone()).to.equal(true);
      expect(api).to.deep.include({ version: '1.1.1', driver: 'ec2', provider: 'us-east-1' });
      expect(api.links.map((l) => l.rel)).to.deep.equal(['realms', 'images', 'instances']);
    });

    it('reads the JSON entry point', async () => {
      dc('application/json').get('/api').reply(200, fixtureJson('deltacloud/api.json'), JSON_CT);
      const api = await client({ format: 'json' }).getApi();
      expect(api).to.deep.include({ version: '1.1.1', driver: 'ec2', provider: 'us-east-1' });
      expect(api.links).to.deep.equal([
        { rel: 'realms', href: 'http://dc.example.com:3001/api/realms' },
        { rel: 'instances', href: 'http://dc.example.com:3001/api/instances' },
      ]);
    });

    it('ping calls the entry point', async () => {
      const scope = dc().get('/api').reply(200, fixtureText('deltacloud/api.xml'), XML_CT);
      await client().ping();
      expect(scope.isDone()).to.equal(true);
    });
  });

  describe('malformed responses become typed errors', () => {
    const cases: [string, () => nock.Scope, string, number | undefined][] = [
      ['an HTML 502 page from a proxy', () => dc().get('/api/instances').reply(502, fixtureText('deltacloud/proxy-502.html'), { 'content-type': 'text/html' }), 'http', 502],
      ['an HTML page with status 200', () => dc().get('/api/instances').reply(200, fixtureText('deltacloud/proxy-502.html'), { 'content-type': 'text/html' }), 'content_type', 200],
      ['truncated XML', () => dc().get('/api/instances').reply(200, "<?xml version='1.0'?><instances><instance id='i-1'><name>x</na", XML_CT), 'parse', 200],
      ['XML without instance ids', () => dc().get('/api/instances').reply(200, '<instances><instance><name>x</name></instance></instances>', XML_CT), 'schema', 200],
      ['a hung connection', () => dc().get('/api/instances').delay(5_000).reply(200, fixtureText('deltacloud/instances.xml'), XML_CT), 'timeout', undefined],
    ];
    for (const [what, setup, reason, status] of cases) {
      it(`${what} → ${reason}`, async () => {
        const scope = setup();
        const err = await failure(client({ timeoutMs: 100 }).listInstances());
        expect(err.reason).to.equal(reason);
        expect(err.backend).to.equal('dc-ec2');
        expect(err.upstreamStatus).to.equal(status);
        expect(scope.isDone()).to.equal(true);
      });
    }

    it('the HTML page is kept as a bounded snippet', async () => {
      dc().get('/api/instances').reply(502, fixtureText('deltacloud/proxy-502.html'), { 'content-type': 'text/html' });
      const err = await failure(client().listInstances());
      expect(err.snippet).to.contain('502 Bad Gateway');
    });

    it('truncated JSON is a parse error', async () => {
      dc('application/json').get('/api/instances').reply(200, '{"instances": [{"id": "i-1"', JSON_CT);
      const err = await failure(client({ format: 'json' }).listInstances());
      expect(err.reason).to.equal('parse');
    });
  });
});
