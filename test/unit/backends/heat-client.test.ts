import { expect } from 'chai';
import nock from 'nock';
import {
  HeatClient,
  type HeatResource,
  toDeploymentObservation,
  toInstanceObservation,
} from '../../../src/backends/heat-client.js';
import { silentLogger } from '../../../src/log/logger.js';
import { deploymentObservationSchema, instanceObservationSchema } from '../../../src/model/types.js';
import { fixtureJson, HEAT_BASE, HEAT_URL, heatConfig, useNock, failure } from './backend-test-helpers.js';

const TOKEN = 'heat-static-token';
const JSON_CT = { 'content-type': 'application/json' };
const WEB = { name: 'web', id: '11111111-1111-4111-8111-111111111111' };
const STACK_PATH = `${HEAT_BASE}/stacks/web/11111111-1111-4111-8111-111111111111`;

function client(overrides: Record<string, unknown> = {}, options: { pageSize?: number } = {}) {
  const cfg = heatConfig({ keystone: undefined, endpoint: `${HEAT_URL}${HEAT_BASE}`, token: TOKEN, ...overrides });
  return new HeatClient(cfg, { logger: silentLogger(), retryBaseDelayMs: 1, ...options });
}

function heat() {
  return nock(HEAT_URL, { reqheaders: { 'x-auth-token': TOKEN, accept: 'application/json' } });
}

describe('heat-client', () => {
  useNock();

  describe('listStacks', () => {
    it('follows limit/marker pagination across three pages, keeping our own endpoint', async () => {
      const scope = heat()
        .get(`${HEAT_BASE}/stacks`)
        .query({ limit: 2 })
        .reply(200, fixtureJson('heat/stacks-page-1.json'), JSON_CT)
        .get(`${HEAT_BASE}/stacks`)
        .query({ limit: 2, marker: '22222222-2222-4222-8222-222222222222' })
        .reply(200, fixtureJson('heat/stacks-page-2.json'), JSON_CT)
        .get(`${HEAT_BASE}/stacks`)
        .query({ limit: 2, marker: '44444444-4444-4444-8444-444444444444' })
        .reply(200, fixtureJson('heat/stacks-page-3.json'), JSON_CT);
      const stacks = await client({}, { pageSize: 2 }).listStacks();
      expect(scope.isDone()).to.equal(true);
      expect(stacks.map((s) => s.stack_name)).to.deep.equal(['web', 'db', 'cache', 'queue', 'batch']);
    });

    it('continues on a full page without links (older Heat) and stops on an empty one', async () => {
      const page = fixtureJson<{ stacks: unknown[] }>('heat/stacks-page-1.json');
      const scope = heat()
        .get(`${HEAT_BASE}/stacks`)
        .query({ limit: 2 })
        .reply(200, { stacks: page.stacks }, JSON_CT)
        .get(`${HEAT_BASE}/stacks`)
        .query({ limit: 2, marker: '22222222-2222-4222-8222-222222222222' })
        .reply(200, { stacks: [] }, JSON_CT);
      expect(await client({}, { pageSize: 2 }).listStacks()).to.have.length(2);
      expect(scope.isDone()).to.equal(true);
    });

    it('fails instead of looping when a next link repeats a marker', async () => {
      const page = fixtureJson('heat/stacks-page-1.json');
      heat().get(`${HEAT_BASE}/stacks`).query(true).times(2).reply(200, page, JSON_CT);
      const err = await failure(client({}, { pageSize: 2 }).listStacks());
      expect(err.reason).to.equal('schema');
      expect(err.message).to.contain('repeats marker');
    });
  });

  describe('getStack', () => {
    it('shows a stack by name/id and maps it to a deployment observation', async () => {
      const scope = heat().get(STACK_PATH).reply(200, fixtureJson('heat/stack-show.json'), JSON_CT);
      const stack = await client().getStack(WEB);
      expect(scope.isDone()).to.equal(true);
      const dep = toDeploymentObservation(stack!, 'heat-east');
      expect(deploymentObservationSchema.parse(dep)).to.deep.equal(dep);
      expect(dep).to.deep.include({
        id: WEB.id,
        name: 'web',
        status: 'CREATE_COMPLETE',
        statusReason: 'Stack CREATE completed successfully',
        backendId: 'heat-east',
        updatedAt: '2030-01-01T10:00:00.000Z',
      });
      expect(dep.outputs).to.deep.equal([
        { key: 'web_ip', value: '203.0.113.10', description: 'Public address of the web server' },
        { key: 'names', value: ['web_server', 'db_0'], description: 'All server names' },
        { key: 'lb_url', value: null, description: 'Not resolvable yet' },
      ]);
    });

    it("accepts 'name/id' strings", async () => {
      const scope = heat().get(STACK_PATH).reply(200, fixtureJson('heat/stack-show.json'), JSON_CT);
      expect((await client().getStack(`web/${WEB.id}`))!.id).to.equal(WEB.id);
      expect(scope.isDone()).to.equal(true);
    });

    it("follows Heat's redirect from a bare name", async () => {
      const scope = heat()
        .get(`${HEAT_BASE}/stacks/web`)
        .reply(302, '', { location: `${HEAT_URL}${STACK_PATH}` })
        .get(STACK_PATH)
        .reply(200, fixtureJson('heat/stack-show.json'), JSON_CT);
      expect((await client().getStack('web'))!.stack_name).to.equal('web');
      expect(scope.isDone()).to.equal(true);
    });

    it('does not follow a redirect to another host (the token would leak)', async () => {
      heat().get(`${HEAT_BASE}/stacks/web`).reply(302, '', { location: `http://elsewhere.example.net${STACK_PATH}` });
      const elsewhere = nock('http://elsewhere.example.net').get(STACK_PATH).reply(200, fixtureJson('heat/stack-show.json'), JSON_CT);
      const err = await failure(client().getStack('web'));
      expect(err.reason).to.equal('http');
      expect(err.upstreamStatus).to.equal(302);
      expect(elsewhere.isDone()).to.equal(false);
    });

    it("is null when Heat's own 404 says the stack does not exist", async () => {
      heat().get(STACK_PATH).reply(404, fixtureJson('heat/error-404.json'), JSON_CT);
      expect(await client().getStack(WEB)).to.equal(null);
    });

    it('a 404 HTML page (wrong endpoint) is an error, not a missing stack', async () => {
      heat().get(STACK_PATH).reply(404, '<html><body>Not Found</body></html>', { 'content-type': 'text/html' });
      const err = await failure(client().getStack(WEB));
      expect(err.reason).to.equal('http');
      expect(err.upstreamStatus).to.equal(404);
    });
  });

  describe('resources and servers', () => {
    it('lists resources with nested_depth and with_detail', async () => {
      const scope = heat()
        .get(`${STACK_PATH}/resources`)
        .query({ nested_depth: 3, with_detail: 'true' })
        .reply(200, fixtureJson('heat/resources-with-detail.json'), JSON_CT);
      const resources = await client().listResources(WEB, { nestedDepth: 3, withDetail: true });
      expect(scope.isDone()).to.equal(true);
      expect(resources).to.have.length(7);
      expect(resources[2]!.parent_resource).to.equal('db_group');
    });

    it('listServers maps server resources (nested included) to instances of the top stack', async () => {
      const scope = heat()
        .get(`${STACK_PATH}/resources`)
        .query({ nested_depth: 2, with_detail: 'true' })
        .reply(200, fixtureJson('heat/resources-with-detail.json'), JSON_CT);
      const servers = await client().listServers(WEB);
      expect(scope.isDone()).to.equal(true);
      for (const s of servers) expect(instanceObservationSchema.parse(s)).to.deep.equal(s);
      expect(servers).to.deep.equal([
        {
          id: '9c7d2e31-0b6a-4f3e-9d1a-5b8c2f4e6a70',
          deploymentId: WEB.id,
          name: 'web_server',
          state: 'running',
          backend: { id: 'heat-east', kind: 'heat', status: 'ACTIVE' },
          addresses: { public: ['203.0.113.10'], private: ['10.0.0.5'] },
          updatedAt: '2030-01-01T10:01:04.000Z',
        },
        {
          id: '0d4b8f6e-2a1c-4e3b-8f7a-6c5d4e3f2a1b',
          deploymentId: WEB.id,
          name: '0',
          state: 'stopped',
          backend: { id: 'heat-east', kind: 'heat', status: 'SHUTOFF' },
          addresses: { public: ['198.51.100.7'], private: ['fd00::7'] },
          updatedAt: '2030-01-01T10:30:00.000Z',
        },
        {
          id: '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b',
          deploymentId: WEB.id,
          name: 'legacy',
          state: 'running',
          backend: { id: 'heat-east', kind: 'heat', status: 'UPDATE_COMPLETE' },
          addresses: { public: ['203.0.113.44'], private: ['10.0.0.44'] },
          updatedAt: '2030-01-01T10:45:00.000Z',
        },
        {
          id: '7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d',
          deploymentId: WEB.id,
          name: 'odd',
          state: 'unknown',
          backend: { id: 'heat-east', kind: 'heat', status: 'UNKNOWN' },
          addresses: { public: [], private: [] },
          updatedAt: '2030-01-01T10:50:00.000Z',
        },
      ]);
    });

    it('respects a configured serverResourceTypes list', async () => {
      heat().get(`${STACK_PATH}/resources`).query(true).reply(200, fixtureJson('heat/resources-with-detail.json'), JSON_CT);
      const servers = await client({ serverResourceTypes: ['AWS::EC2::Instance'] }).listServers(WEB);
      expect(servers.map((s) => s.name)).to.deep.equal(['legacy']);
    });

    const base: HeatResource = {
      resource_name: 'srv',
      physical_resource_id: 'p-1',
      resource_status: 'CREATE_COMPLETE',
      resource_type: 'OS::Nova::Server',
      updated_time: '2030-01-01T10:00:00',
    };
    const ctx = { deploymentId: 'stack-1', backendId: 'h', serverResourceTypes: ['OS::Nova::Server'] };

    it('falls back to resource_status without a live status, and keeps Heat\'s DELETE_* over Nova', () => {
      expect(toInstanceObservation({ ...base, resource_status: 'CREATE_FAILED' }, ctx)).to.deep.include({
        state: 'create_failed',
        backend: { id: 'h', kind: 'heat', status: 'CREATE_FAILED' },
        updatedAt: '2030-01-01T10:00:00.000Z',
      });
      const deleting = { ...base, resource_status: 'DELETE_IN_PROGRESS', attributes: { show: { status: 'ACTIVE' } } };
      expect(toInstanceObservation(deleting, ctx)!.state).to.equal('shutting_down');
    });

    it('keeps an unrecognised resource_status as unknown with the raw value', () => {
      expect(toInstanceObservation({ ...base, resource_status: 'SNAPSHOTTING' }, ctx)).to.deep.include({
        state: 'unknown',
        backend: { id: 'h', kind: 'heat', status: 'SNAPSHOTTING' },
      });
    });

    it('produces no instance for a server without a physical id yet', () => {
      expect(toInstanceObservation({ ...base, physical_resource_id: '', resource_status: 'CREATE_IN_PROGRESS' }, ctx)).to.equal(null);
      expect(toInstanceObservation({ ...base, physical_resource_id: null }, ctx)).to.equal(null);
    });
  });

  describe('listEvents', () => {
    it('sends marker, limit and sort_dir', async () => {
      const scope = heat()
        .get(`${STACK_PATH}/events`)
        .query({ marker: 'e0000000-0000-4000-8000-000000000000', limit: 50, sort_dir: 'asc' })
        .reply(200, fixtureJson('heat/events.json'), JSON_CT);
      const events = await client().listEvents(WEB, {
        marker: 'e0000000-0000-4000-8000-000000000000',
        markerTime: '2030-01-01T10:00:00Z',
        limit: 50,
      });
      expect(scope.isDone()).to.equal(true);
      expect(events.map((e) => e.resource_status)).to.deep.equal(['CREATE_IN_PROGRESS', 'CREATE_COMPLETE', 'CREATE_COMPLETE']);
    });

    it('an expired marker Heat rejects is marker_unknown', async () => {
      heat()
        .get(`${STACK_PATH}/events`)
        .query(true)
        .reply(
          400,
          { explanation: 'The server could not comply with the request since it is either malformed or otherwise incorrect.', code: 400, error: { message: 'Invalid marker: e-old', traceback: null, type: 'Invalid' }, title: 'Bad Request' },
          JSON_CT,
        );
      const err = await failure(client().listEvents(WEB, { marker: 'e-old' }));
      expect(err.reason).to.equal('marker_unknown');
      expect(err.upstreamStatus).to.equal(400);
    });

    it('an expired marker Heat silently ignores (events before markerTime come back) is marker_unknown', async () => {
      heat().get(`${STACK_PATH}/events`).query(true).reply(200, fixtureJson('heat/events.json'), JSON_CT);
      const err = await failure(
        client().listEvents(WEB, { marker: 'e-purged', markerTime: '2030-01-01T10:01:00Z', sortDir: 'asc' }),
      );
      expect(err.reason).to.equal('marker_unknown');
      expect(err.message).to.contain('resync');
    });
  });

  describe('malformed responses become typed errors', () => {
    const cases: [string, () => nock.Scope, string, number | undefined][] = [
      ['truncated JSON', () => heat().get(STACK_PATH).reply(200, '{"stack": {"id": "1111', JSON_CT), 'parse', 200],
      ['wrong content type', () => heat().get(STACK_PATH).reply(200, 'stack: web', { 'content-type': 'text/plain' }), 'content_type', 200],
      [
        'an HTML error page from a proxy',
        () => heat().get(STACK_PATH).reply(502, '<html><body><h1>502 Bad Gateway</h1></body></html>', { 'content-type': 'text/html' }),
        'http',
        502,
      ],
      ['a 200 that fails the schema', () => heat().get(STACK_PATH).reply(200, { stack: { id: 42 } }, JSON_CT), 'schema', 200],
      ['a hung connection', () => heat().get(STACK_PATH).delay(5_000).reply(200, fixtureJson('heat/stack-show.json'), JSON_CT), 'timeout', undefined],
    ];
    for (const [what, setup, reason, status] of cases) {
      it(`${what} → ${reason}`, async () => {
        const scope = setup();
        const err = await failure(client({ timeoutMs: 100 }).getStack(WEB));
        expect(err.reason).to.equal(reason);
        expect(err.backend).to.equal('heat-east');
        expect(err.upstreamStatus).to.equal(status);
        expect(scope.isDone()).to.equal(true);
      });
    }

    it('a Heat error document surfaces its message', async () => {
      heat().get(`${STACK_PATH}/resources`).query(true).reply(500, { explanation: 'boom', code: 500, error: { message: 'Engine timed out', traceback: null, type: 'MessagingTimeout' }, title: 'Internal Server Error' }, JSON_CT);
      const err = await failure(client().listResources(WEB));
      expect(err.message).to.contain('Engine timed out');
      expect(err.snippet).to.contain('MessagingTimeout');
    });
  });

  it('ping lists one stack', async () => {
    const scope = heat().get(`${HEAT_BASE}/stacks`).query({ limit: 1 }).reply(200, { stacks: [] }, JSON_CT);
    await client().ping();
    expect(scope.isDone()).to.equal(true);
  });
});
