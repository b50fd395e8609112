import { expect } from 'chai';
import { startSimulator, type Simulator, type WorldSnapshot } from '../../../src/sim/simulator.js';
import { basic, deltacloud, getToken, heat, token, xml } from './sim-test-helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Reads every stack (paging by `links` rel=next), then each stack's detailed resources. */
async function readWorldThroughHeat(sim: Simulator, tok: string): Promise<WorldSnapshot['instances']> {
  const instances: WorldSnapshot['instances'] = [];
  let url: string | undefined = `${sim.heatUrl}/stacks?limit=7`;
  const stacks: Json[] = [];
  while (url) {
    const res = await fetch(url, { headers: { 'X-Auth-Token': tok } });
    expect(res.status).to.equal(200);
    const body = (await res.json()) as Json;
    stacks.push(...(body.stacks as Json[]));
    url = (body.links as Json[] | undefined)?.find((l) => l.rel === 'next')?.href as string | undefined;
  }
  for (const stack of stacks) {
    const res = await heat(sim, tok, `/stacks/${stack.stack_name}/${stack.id}/resources?with_detail=true&nested_depth=2`);
    const body = (await res.json()) as Json;
    for (const r of body.resources as Json[]) {
      expect(r.resource_type).to.equal('OS::Nova::Server');
      const show = r.attributes.show as Json;
      const addrs = Object.values(r.attributes.addresses as Record<string, Json[]>).flat();
      instances.push({
        id: r.physical_resource_id,
        deploymentId: stack.id,
        name: show.name,
        resourceName: r.resource_name,
        novaStatus: show.status,
        resourceStatus: r.resource_status,
        deltacloudState: null,
        addresses: {
          public: addrs.filter((a) => a['OS-EXT-IPS:type'] === 'floating').map((a) => a.addr),
          private: addrs.filter((a) => a['OS-EXT-IPS:type'] === 'fixed').map((a) => a.addr),
        },
      });
    }
  }
  return instances;
}

describe('sim APIs over plain HTTP', () => {
  let sim: Simulator;
  let tok: string;
  beforeEach(async () => {
    sim = await startSimulator({ clock: 'manual', seed: 11, deployments: 15, instancesPerDeployment: 3, changeRate: 1 });
    tok = await token(sim);
  });
  afterEach(() => sim.close());

  it('Heat and Deltacloud together show exactly the ground-truth world', async () => {
    // Put the world in a mixed state (in-progress launches, reboots, crashes, deletions).
    sim.handle.advance(20_000);
    sim.handle.applyChange('launch');
    const world = sim.handle.world();
    expect(world.instances.map((i) => i.novaStatus)).to.include.members(['ACTIVE', 'BUILD']);

    const fromHeat = await readWorldThroughHeat(sim, tok);
    const expected = world.instances.map((i) => ({ ...i, deltacloudState: null }));
    const byId = (a: { id: string }, b: { id: string }): number => a.id.localeCompare(b.id);
    expect(fromHeat.sort(byId)).to.deep.equal(expected.sort(byId));

    const dcXml = await deltacloud(sim, '/instances');
    expect(dcXml.headers.get('content-type')).to.match(/application\/xml/);
    const parsed = xml.parse(await dcXml.text()) as Json;
    const xmlInstances = (parsed.instances.instance ?? []) as Json[];
    const fromXml = xmlInstances.map((i) => ({
      id: i['@id'],
      state: i.state,
      public: (i.public_addresses?.address ?? []).map((a: Json) => a['#text']),
      private: (i.private_addresses?.address ?? []).map((a: Json) => a['#text']),
    }));
    const dcJson = (await (await deltacloud(sim, '/instances', { Accept: 'application/json' })).json()) as Json;
    const fromJson = (dcJson.instances as Json[]).map((i) => ({
      id: i.id,
      state: i.state,
      public: (i.public_addresses as Json[]).map((a) => a.address),
      private: (i.private_addresses as Json[]).map((a) => a.address),
    }));
    const want = world.instances
      .map((i) => ({ id: i.id, state: i.deltacloudState, public: i.addresses.public, private: i.addresses.private }))
      .sort(byId);
    expect(fromXml.sort(byId)).to.deep.equal(want);
    expect(fromJson.sort(byId)).to.deep.equal(want);
    // The documented XML/JSON differences.
    expect(xmlInstances[0]).to.have.property('owner_id');
    expect((dcJson.instances as Json[])[0]).to.have.property('owner').and.not.have.property('owner_id');
  });

  it('Keystone: token with catalog, wrong password → 401 in Keystone format', async () => {
    const ok = await getToken(sim);
    expect(ok.status).to.equal(201);
    expect(ok.headers.get('x-subject-token')).to.be.a('string');
    const body = (await ok.json()) as Json;
    expect(body.token.expires_at).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(body.token.project).to.deep.include({ id: sim.credentials.projectId, name: sim.credentials.projectName });
    const orchestration = (body.token.catalog as Json[]).find((s) => s.type === 'orchestration')!;
    expect((orchestration.endpoints as Json[]).map((e) => e.interface).sort()).to.deep.equal(['admin', 'internal', 'public']);
    expect((orchestration.endpoints as Json[])[0]).to.include({ region: 'RegionOne', url: sim.heatUrl });

    const bad = await getToken(sim, 'wrong');
    expect(bad.status).to.equal(401);
    expect(await bad.json()).to.deep.equal({
      error: { code: 401, message: 'The request you have made requires authentication.', title: 'Unauthorized' },
    });
  });

  it('Heat: unknown token → 401; unknown stack → Heat error JSON; lookup → 302', async () => {
    const noAuth = await heat(sim, 'not-a-token', '/stacks');
    expect(noAuth.status).to.equal(401);
    expect(((await noAuth.json()) as Json).error.code).to.equal(401);

    const missing = await heat(sim, tok, '/stacks/nope/00000000-0000-0000-0000-000000000000');
    expect(missing.status).to.equal(404);
    const err = (await missing.json()) as Json;
    expect(err).to.have.all.keys('explanation', 'code', 'error', 'title');
    expect(err.error).to.have.all.keys('message', 'traceback', 'type');
    expect(err.error.type).to.equal('EntityNotFound');

    const stack = sim.handle.world().deployments[0]!;
    const lookup = await heat(sim, tok, `/stacks/${stack.id}`, { redirect: 'manual' });
    expect(lookup.status).to.equal(302);
    expect(lookup.headers.get('location')).to.equal(`${sim.heatUrl}/stacks/${stack.name}/${stack.id}`);
    const byName = await heat(sim, tok, `/stacks/${stack.name}/resources?with_detail=true`, { redirect: 'manual' });
    expect(byName.headers.get('location')).to.equal(`${sim.heatUrl}/stacks/${stack.name}/${stack.id}/resources?with_detail=true`);

    const show = (await (await heat(sim, tok, `/stacks/${stack.name}/${stack.id}`)).json()) as Json;
    expect(show.stack).to.include({ id: stack.id, stack_name: stack.name, stack_status: stack.stackStatus });
    expect(show.stack.creation_time).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const badDepth = await heat(sim, tok, `/stacks/${stack.name}/${stack.id}/resources?nested_depth=x`);
    expect(badDepth.status).to.equal(400);
    expect(((await badDepth.json()) as Json).error.message).to.equal("Only integer is acceptable by 'nested_depth'.");
  });

  it('Heat events: limit, marker, sort_dir, and old events purged', async () => {
    await sim.close();
    sim = await startSimulator({ clock: 'manual', seed: 2, deployments: 1, instancesPerDeployment: 2, maxEventsPerStack: 20, eventPurgeBatchSize: 5 });
    tok = await token(sim);
    const stack = sim.handle.world().deployments[0]!;
    const path = `/stacks/${stack.name}/${stack.id}/events`;
    const all = ((await (await heat(sim, tok, `${path}?sort_dir=asc`)).json()) as Json).events as Json[];
    expect(all).to.have.length(6); // stack IN_PROGRESS, 2 × (server IN_PROGRESS, COMPLETE), stack COMPLETE
    expect(all[0]).to.include({ resource_name: stack.name, resource_status: 'CREATE_IN_PROGRESS', resource_type: 'OS::Heat::Stack' });

    const desc = ((await (await heat(sim, tok, `${path}?limit=2`)).json()) as Json).events as Json[];
    expect(desc.map((e) => e.id)).to.deep.equal([all[5]!.id, all[4]!.id]);
    const next = ((await (await heat(sim, tok, `${path}?sort_dir=asc&limit=2&marker=${all[1]!.id}`)).json()) as Json).events as Json[];
    expect(next.map((e) => e.id)).to.deep.equal([all[2]!.id, all[3]!.id]);

    // Reboots leave no Heat events; deletions do. Create enough events to purge the oldest.
    for (let i = 0; i < 4; i++) {
      sim.handle.applyChange('launch');
      sim.handle.advance(10_000);
    }
    sim.handle.applyChange('delete', stack.id);
    sim.handle.advance(2_000);
    const after = ((await (await heat(sim, tok, `${path}?sort_dir=asc`)).json()) as Json).events as Json[];
    expect(after.length).to.be.at.most(20);
    expect(after.at(-1)).to.include({ resource_status: 'DELETE_COMPLETE', resource_type: 'OS::Heat::Stack' });

    const purgedMarker = ((await (await heat(sim, tok, `${path}?sort_dir=asc&limit=3&marker=does-not-exist`)).json()) as Json).events as Json[];
    // Heat pages from the start when the marker is unknown (purged or never existed).
    expect(purgedMarker.map((e) => e.id)).to.deep.equal(after.slice(0, 3).map((e) => e.id));
  });

  it('Heat events with eventMarkerNotFound=not-found answer 404 for an unknown marker', async () => {
    await sim.close();
    sim = await startSimulator({ clock: 'manual', seed: 2, deployments: 1, eventMarkerNotFound: 'not-found' });
    tok = await token(sim);
    const stack = sim.handle.world().deployments[0]!;
    const res = await heat(sim, tok, `/stacks/${stack.name}/${stack.id}/events?marker=gone`);
    expect(res.status).to.equal(404);
    expect(((await res.json()) as Json).error.type).to.equal('EntityNotFound');
  });

  it('Deltacloud: entry point, Basic auth, driver/provider headers, XML errors', async () => {
    const entry = await deltacloud(sim, '', {}, false);
    expect(entry.status).to.equal(200);
    const api = (xml.parse(await entry.text()) as Json).api as Json;
    expect(api['@driver']).to.equal('openstack');
    expect((api.link as Json[]).map((l) => l['@rel'])).to.include('instances');

    const unauth = await deltacloud(sim, '/instances', {}, false);
    expect(unauth.status).to.equal(401);
    expect(unauth.headers.get('www-authenticate')).to.match(/^Basic/);
    expect((xml.parse(await unauth.text()) as Json).error).to.deep.include({ '@status': '401', message: 'Authentication required' });

    const echoed = await deltacloud(sim, '/instances', { 'X-Deltacloud-Driver': 'openstack', 'X-Deltacloud-Provider': 'http://keystone/v3' });
    expect(echoed.headers.get('x-deltacloud-driver')).to.equal('openstack');
    expect(echoed.headers.get('x-deltacloud-provider')).to.equal('http://keystone/v3');
    await echoed.arrayBuffer();

    const missing = await deltacloud(sim, '/instances/nope');
    expect(missing.status).to.equal(404);
    const err = (xml.parse(await missing.text()) as Json).error as Json;
    expect(err).to.include({ '@status': '404', code: '404' });
    expect(err.backend).to.include({ '@driver': 'openstack' });

    const one = sim.handle.world().instances[0]!;
    const show = (await (await deltacloud(sim, `/instances/${one.id}`, { Accept: 'application/json' })).json()) as Json;
    expect(show.instance).to.include({ id: one.id, state: one.deltacloudState });
    expect(basic(sim)).to.match(/^Basic /);
  });

  it('counts requests, bytes and modeled backend work per route template', async () => {
    sim.handle.resetStats();
    const stack = sim.handle.world().deployments[0]!;
    await (await heat(sim, tok, `/stacks/${stack.name}/${stack.id}/resources?with_detail=true`)).arrayBuffer();
    await (await heat(sim, tok, `/stacks/${stack.name}/${stack.id}/resources`)).arrayBuffer();
    await (await deltacloud(sim, '/instances')).arrayBuffer();
    const stats = (await (await fetch(`${sim.url}/_sim/stats`)).json()) as Json;
    const resources = stats.endpoints['GET heat /stacks/:name/:id/resources'] as Json;
    expect(resources.requests).to.equal(2);
    expect(resources.workUnits).to.equal(3 + 1);
    expect(resources.responseBytes).to.be.greaterThan(1000);
    expect(stats.apis.deltacloud.requests).to.equal(1);
    expect((await fetch(`${sim.url}/_sim/stats/reset`, { method: 'POST' })).status).to.equal(204);
    expect(sim.handle.stats().apis).to.deep.equal({});
  });

  it('serves truth and world over /_sim', async () => {
    sim.handle.advance(5_000);
    const truth = (await (await fetch(`${sim.url}/_sim/truth?since=10`)).json()) as Json;
    expect(truth.truth).to.deep.equal(sim.handle.truth(10));
    const world = (await (await fetch(`${sim.url}/_sim/world`)).json()) as Json;
    expect(world).to.deep.equal(sim.handle.world());
    expect((await fetch(`${sim.url}/_sim/truth?since=yesterday`)).status).to.equal(400);
  });
});
