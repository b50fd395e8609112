import { expect } from 'chai';
import { startSimulator, type Simulator } from '../../../src/sim/simulator.js';
import type { PushFaults } from '../../../src/sim/fault-injector.js';
import { deltacloud, heat, startReceiver, subscribe, token, waitFor, xml } from './sim-test-helpers.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('sim faults, observed from the client side', () => {
  let sim: Simulator;
  let tok: string;
  beforeEach(async () => {
    sim = await startSimulator({ clock: 'manual', seed: 9, deployments: 3, instancesPerDeployment: 2 });
    tok = await token(sim);
  });
  afterEach(() => sim.close());

  const stackPath = (): string => {
    const d = sim.handle.world().deployments[0]!;
    return `/stacks/${d.name}/${d.id}`;
  };

  it('latency is added to each API (lower bound only)', async () => {
    sim.handle.setFaults({ heat: { latencyMs: 120 }, deltacloud: { latencyMs: 120 }, keystone: { latencyMs: 120 } });
    let t0 = performance.now();
    await (await heat(sim, tok, '/stacks')).arrayBuffer();
    expect(performance.now() - t0).to.be.at.least(115);
    t0 = performance.now();
    await (await deltacloud(sim, '/instances')).arrayBuffer();
    expect(performance.now() - t0).to.be.at.least(115);
    t0 = performance.now();
    await token(sim);
    expect(performance.now() - t0).to.be.at.least(115);
  });

  it('injected errors use each API’s own status and format', async () => {
    sim.handle.setFaults({
      heat: { errorRate: 1, errorStatus: 503 },
      deltacloud: { errorRate: 1, errorStatus: 500 },
      keystone: { errorRate: 1, errorStatus: 500 },
    });
    const h = await heat(sim, tok, '/stacks');
    expect(h.status).to.equal(503);
    const hb = (await h.json()) as Json;
    expect(hb).to.include({ code: 503, title: 'Service Unavailable' });
    expect(hb.error).to.have.all.keys('message', 'traceback', 'type');

    const d = await deltacloud(sim, '/instances');
    expect(d.status).to.equal(500);
    const err = (xml.parse(await d.text()) as Json).error as Json;
    expect(err).to.include({ '@status': '500', code: '500' });

    const k = await fetch(`${sim.keystoneUrl}/auth/tokens`, { method: 'POST', body: '{}' });
    expect(k.status).to.equal(500);
    expect(((await k.json()) as Json).error).to.include({ code: 500, title: 'Internal Server Error' });
  });

  it('malformed answers keep their 200 and content type but lose half the body', async () => {
    sim.handle.setFaults({ heat: { malformedRate: 1 }, deltacloud: { malformedRate: 1 } });
    const h = await heat(sim, tok, '/stacks');
    expect(h.status).to.equal(200);
    expect(h.headers.get('content-type')).to.match(/json/);
    const text = await h.text();
    expect(() => JSON.parse(text)).to.throw(SyntaxError);
    const d = await deltacloud(sim, '/instances');
    expect(d.status).to.equal(200);
    expect(await d.text()).to.not.match(/<\/instances>\s*$/);
  });

  it('a hung request is never answered: the client’s timeout fires', async () => {
    sim.handle.setFaults({ heat: { hangRate: 1 } });
    let error: unknown;
    try {
      await heat(sim, tok, '/stacks', { signal: AbortSignal.timeout(200) });
    } catch (err) {
      error = err;
    }
    expect((error as Error)?.name).to.equal('TimeoutError');
  });

  it('outage windows: 503 in the API format, or refused connections, then recovery', async () => {
    const res = await fetch(`${sim.url}/_sim/faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ heat: { outage: { durationMs: 300 } }, deltacloud: { outage: { durationMs: 300, mode: 'refuse' } } }),
    });
    expect(res.status).to.equal(200);
    const during = await heat(sim, tok, '/stacks');
    expect(during.status).to.equal(503);
    expect(((await during.json()) as Json).code).to.equal(503);
    let refused: unknown;
    try {
      await deltacloud(sim, '/instances');
    } catch (err) {
      refused = err;
    }
    expect(refused).to.be.instanceOf(Error);
    // The window ends by itself.
    await waitFor(async () => {
      const r = await heat(sim, tok, '/stacks');
      await r.arrayBuffer();
      return r.status === 200 ? true : undefined;
    }, 'heat back after the outage');
    await waitFor(async () => {
      try {
        return (await deltacloud(sim, '/instances')).status === 200 ? true : undefined;
      } catch {
        return undefined;
      }
    }, 'deltacloud back after the outage');
  });

  it('early token expiry turns a fresh token into a 401 (virtual time)', async () => {
    sim.handle.setFaults({ keystone: { earlyExpiryMs: 1_000 } });
    expect((await heat(sim, tok, stackPath())).status).to.equal(200);
    sim.handle.advance(1_000);
    const res = await heat(sim, tok, stackPath());
    expect(res.status).to.equal(401);
    expect(((await res.json()) as Json).error.title).to.equal('Unauthorized');
    // A new token works again until it ages.
    expect((await heat(sim, await token(sim), stackPath())).status).to.equal(200);
  });

  it('POST /_sim/faults validates with zod (400 problem+json), DELETE clears', async () => {
    const bad = await fetch(`${sim.url}/_sim/faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ heat: { errorRate: 2, bogus: true } }),
    });
    expect(bad.status).to.equal(400);
    expect(bad.headers.get('content-type')).to.equal('application/problem+json');
    const problem = (await bad.json()) as Json;
    expect((problem.errors as Json[]).map((e) => e.path)).to.include('heat.errorRate');

    sim.handle.setFaults({ heat: { errorRate: 1 } });
    expect((await heat(sim, tok, '/stacks')).status).to.equal(500);
    expect((await fetch(`${sim.url}/_sim/faults`, { method: 'DELETE' })).status).to.equal(204);
    expect((await heat(sim, tok, '/stacks')).status).to.equal(200);
  });

  describe('push faults', () => {
    async function pushes(faults: PushFaults, changes: number): Promise<{ received: number; stats: Json; elapsedMs: number }> {
      const receiver = await startReceiver();
      try {
        const sub = await subscribe(sim, tok, 'q1', { subscriber: receiver.url, ttl: 3600, options: { event_types: ['compute.instance.update'] } });
        expect(sub.status).to.equal(201);
        sim.handle.setFaults({ push: faults });
        const t0 = performance.now();
        const targets = sim.handle.world().instances.slice(0, changes);
        for (const t of targets) sim.handle.applyChange('crash', t.id, { crashTo: 'ERROR' });
        await sim.handle.pushIdle();
        return { received: receiver.received.length, stats: sim.handle.stats().push as unknown as Json, elapsedMs: performance.now() - t0 };
      } finally {
        await receiver.close();
      }
    }

    it('lossy: dropRate 1 delivers nothing and counts the drops', async () => {
      const r = await pushes({ dropRate: 1 }, 4);
      expect(r.received).to.equal(0);
      expect(r.stats).to.include({ produced: 4, dropped: 4, delivered: 0 });
    });

    it('duplicated: duplicateRate 1 delivers every message twice', async () => {
      const r = await pushes({ duplicateRate: 1 }, 3);
      expect(r.received).to.equal(6);
      expect(r.stats).to.include({ produced: 3, duplicated: 3, delivered: 6 });
    });

    it('delayed: delayMs holds each message back (lower bound only)', async () => {
      const r = await pushes({ delayMs: 150 }, 2);
      expect(r.received).to.equal(2);
      expect(r.elapsedMs).to.be.at.least(145);
    });
  });
});
