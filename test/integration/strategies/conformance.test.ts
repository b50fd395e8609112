/**
 * One conformance suite, run against every strategy of strategies/index.ts with the
 * simulator, on a manual clock: the initial sync reproduces the ground truth; a launch, a
 * crash and a deletion are each observed within the strategy's own bounds (its definition's
 * `conformance`, under its default options); a backend outage serves stale reads and the
 * strategy recovers; a malformed backend response never corrupts the cache. Time moves only
 * through `world.advance(ms)`, so a bound is checked exactly, with no slack.
 */
import { expect } from 'chai';
import type { Instance } from '../../../src/model/types.js';
import type { AnyStrategyDefinition } from '../../../src/strategy/define-strategy.js';
import { optionsKey } from '../../../src/strategy/define-strategy.js';
import { STRATEGIES } from '../../../src/strategy/registry.js';
import { bearer, TOKENS } from '../../helpers/gateway.js';
import { send } from '../../helpers/http.js';
import { compareWithWorld, startWorld, type World } from '../../helpers/world.js';

interface ReadBody {
  meta: { stale: boolean; staleReason?: string };
}

type Bound = 'change' | 'deletion' | 'recovery';

async function cacheSnapshot(world: World): Promise<string[]> {
  const out: string[] = [];
  for (const list of [
    (c?: string) => world.gateway.store.listInstancesJson({ limit: 1_000, ...(c ? { cursor: c } : {}) }),
    (c?: string) => world.gateway.store.listDeploymentsJson({ limit: 1_000, ...(c ? { cursor: c } : {}) }),
  ]) {
    let cursor: string | undefined;
    do {
      const page = await list(cursor);
      out.push(...page.items);
      cursor = page.next ?? undefined;
    } while (cursor);
  }
  return out;
}

/** Failed backend reads of the strategy so far (polls, pushes' refreshes, resyncs). */
async function failedRuns(world: World): Promise<number> {
  const metric = await world.gateway.metrics.pollRuns.get();
  return metric.values.filter((v) => v.labels.outcome === 'error').reduce((sum, v) => sum + v.value, 0);
}

/** Runs the suite for one definition (the adding-a-strategy test runs it for a copy, too). */
export function conformanceSuite(definition: AnyStrategyDefinition): void {
  const options = definition.options.parse({}) as Record<string, unknown>;
  const conformance = definition.conformance;
  // What the cache is compared with: Heat's view when the strategy reads Heat, else Deltacloud's.
  const source = definition.reads.includes('heat') ? 'heat' : 'deltacloud';

  describe(`strategy conformance: ${definition.name}`, function () {
    this.timeout(60_000);
    let world: World;

    beforeEach(async () => {
      world = await startWorld(definition.name, {
        manual: true,
        strategyOptions: { [optionsKey(definition.name)]: options },
        sim: { launchDurationMs: 5_000, deleteDurationMs: 5_000, rebootWindowMs: 3_000 },
      });
    });
    afterEach(() => world.close());

    /** The cache agrees with the world once the bound has passed (on-read: after one read). */
    async function converges(bound: Bound, what: string): Promise<void> {
      if (conformance.kind === 'on-read') {
        const freshness = await world.runtime.current().beforeRead({ kind: 'instances' });
        expect(freshness.failed, freshness.reason).to.equal(false);
      } else {
        const ms = { change: conformance.changeMs, deletion: conformance.deletionMs, recovery: conformance.recoveryMs }[bound](options);
        await world.advance(ms);
      }
      expect(await compareWithWorld(world, source), `${what} (${bound} bound)`).to.deep.equal([]);
    }

    it('the initial sync reproduces the ground truth', async () => {
      await converges('change', 'initial sync');
      const { instances } = await world.gateway.store.counts();
      expect(instances).to.equal(world.sim.handle.world().instances.length);
      if (source === 'heat') {
        const sample = (await world.gateway.store.getInstance(world.sim.handle.world().instances[0]!.id)) as Instance;
        expect(sample).to.include({ source: definition.name });
        expect(sample.addresses.private).to.have.length(1);
      }
    });

    it('observes a launch, a crash and a deletion within its bounds', async () => {
      await converges('change', 'initial sync');

      const launched = world.sim.handle.applyChange('launch');
      expect(launched.length).to.be.greaterThan(0);
      await world.advance(5_000); // BUILD → ACTIVE, CREATE_IN_PROGRESS → CREATE_COMPLETE
      await converges('change', 'launch');

      const victim = world.sim.handle.world().instances.find((i) => i.novaStatus === 'ACTIVE')!;
      world.sim.handle.applyChange('crash', victim.id, { crashTo: 'ERROR' });
      await converges('change', 'crash');
      expect((await world.gateway.store.getInstance(victim.id))!.state).to.equal('error');

      const doomed = world.sim.handle.world().deployments.find((d) => d.id !== victim.deploymentId)!;
      world.sim.handle.applyChange('delete', doomed.id);
      await world.advance(5_000); // DELETE_IN_PROGRESS → DELETE_COMPLETE
      await converges('deletion', 'deletion');
      for (const id of doomed.instanceIds) expect((await world.gateway.store.getInstance(id))!.state, id).to.equal('vanished');
    });

    it('serves stale reads through a backend outage and recovers when the backend returns', async () => {
      await converges('change', 'initial sync');
      const before = await cacheSnapshot(world);
      const outage = { outage: { durationMs: 600_000, mode: 'unavailable' as const } };
      world.sim.handle.setFaults({ heat: outage, deltacloud: outage });
      const victim = world.sim.handle.world().instances[0]!;
      world.sim.handle.applyChange('crash', victim.id, { crashTo: 'SHUTOFF' });

      const freshness = await world.runtime.current().beforeRead({ kind: 'instance', id: victim.id });
      if (conformance.kind === 'on-read') {
        expect(freshness.failed).to.equal(true);
        expect(freshness.reason).to.be.a('string');
      } else {
        // The strategy meets the outage on its schedule.
        await world.advance(conformance.changeMs(options));
      }
      // Whatever the strategy, the cache still answers with what it last knew…
      expect(await world.gateway.store.getInstance(victim.id)).to.not.equal(null);
      expect(await cacheSnapshot(world)).to.have.length(before.length);
      // …and says that it could not refresh, once its next attempt failed (a failure, not age).
      const read = async () => (await send(world.url, 'GET', `/v1/instances/${encodeURIComponent(victim.id)}`, bearer(TOKENS.client))).json as ReadBody;
      if (conformance.kind === 'within') {
        // Second by second until its next attempt has failed, always short of its age bound.
        for (let waited = 0; waited + 1_000 < definition.staleAfterMs(options) && !(await read()).meta.stale; waited += 1_000) await world.advance(1_000);
      }
      const stale = (await read()).meta;
      expect(stale.stale, JSON.stringify(stale)).to.equal(true);
      expect(stale.staleReason).to.match(/failed|did not answer|503|unavailable/i);

      world.sim.handle.clearFaults();
      await converges('recovery', 'recovery');
      // Fresh again once the strategy refreshed successfully.
      const after = (await read()).meta;
      expect(after.stale, `a fresh read after recovery: ${JSON.stringify(after)}`).to.equal(false);
    });

    it('never lets a malformed backend response into the cache', async () => {
      await converges('change', 'initial sync');
      const before = await cacheSnapshot(world);
      const errorsBefore = await failedRuns(world);
      world.sim.handle.setFaults({ heat: { malformedRate: 1 }, deltacloud: { malformedRate: 1 } });
      // A launch: no push describes a new stack's servers (a strategy that trusts pushes stores
      // what a push says without a read), so every strategy has to ask the backend for it.
      world.sim.handle.applyChange('launch');
      if (conformance.kind === 'on-read') {
        expect((await world.runtime.current().beforeRead({ kind: 'instances' })).failed).to.equal(true);
      } else {
        // Within its change bound the strategy has asked, and met a malformed answer.
        await world.advance(conformance.changeMs(options));
        expect(await failedRuns(world)).to.be.greaterThan(errorsBefore);
      }
      expect(await cacheSnapshot(world)).to.deep.equal(before);
      world.sim.handle.clearFaults();
      await converges('recovery', 'recovery');
    });
  });
}

for (const definition of STRATEGIES) conformanceSuite(definition);
