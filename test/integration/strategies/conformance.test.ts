/**
 * One conformance suite, run against every strategy with the simulator: the initial sync
 * reproduces the ground truth; a launch, a crash and a deletion are each observed within the
 * strategy's bound; a backend outage serves stale reads and the strategy recovers; a
 * malformed backend response never corrupts the cache.
 */
import { expect } from 'chai';
import type { StrategyName } from '../../../src/config/schema.js';
import type { Instance } from '../../../src/model/types.js';
import { bearer, TOKENS } from '../../helpers/gateway.js';
import { send } from '../../helpers/http.js';
import { waitFor } from '../../helpers/redis.js';
import { compareWithWorld, FAST_STRATEGY_OPTIONS, startWorld, type World } from '../../helpers/world.js';

interface Case {
  name: StrategyName;
  source: 'heat' | 'deltacloud';
  /** How long a change may take to reach the cache; 'next-read' for on-demand. */
  boundMs: number | 'next-read';
  /** Deletions need two listings when only listings reveal them. */
  deleteBoundMs: number | 'next-read';
  /** After the backend returns from an outage. */
  recoveryBoundMs: number | 'next-read';
}

// Slack covers a tick, a queue hop and a loaded CI machine; the bounds are the strategy's own.
const SLACK_MS = 1_500;
const poll = FAST_STRATEGY_OPTIONS.cachedPoll;
const dc = FAST_STRATEGY_OPTIONS.deltacloudPoll;
const CASES: Case[] = [
  { name: 'on-demand', source: 'heat', boundMs: 'next-read', deleteBoundMs: 'next-read', recoveryBoundMs: 'next-read' },
  {
    name: 'cached-poll',
    source: 'heat',
    boundMs: poll.intervalMs * 1.1 + poll.fastIntervalMs + SLACK_MS,
    deleteBoundMs: poll.intervalMs * 1.1 + poll.fastIntervalMs + SLACK_MS,
    recoveryBoundMs: poll.intervalMs * 1.1 + poll.fastIntervalMs + SLACK_MS,
  },
  // A push whose refresh failed brings the resync forward to 5 s (RETRY_AFTER_FAILURE_MS).
  { name: 'webhook', source: 'heat', boundMs: 1_000, deleteBoundMs: 1_000, recoveryBoundMs: 5_000 * 1.1 + SLACK_MS },
  {
    name: 'deltacloud-poll',
    source: 'deltacloud',
    boundMs: dc.intervalMs * 1.1 + SLACK_MS,
    deleteBoundMs: 2 * dc.intervalMs * 1.1 + SLACK_MS,
    recoveryBoundMs: dc.intervalMs * 1.1 + SLACK_MS,
  },
];

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

for (const c of CASES) {
  describe(`strategy conformance: ${c.name}`, function () {
    this.timeout(30_000);
    let world: World;

    beforeEach(async () => {
      world = await startWorld(c.name, { sim: { launchDurationMs: 5_000, deleteDurationMs: 5_000, rebootWindowMs: 3_000 } });
    });
    afterEach(() => world.close());

    /** The cache agrees with the world within the bound (on-demand: after one read). */
    async function converges(bound: number | 'next-read', what: string): Promise<void> {
      let last: string[] = [];
      if (bound === 'next-read') {
        const freshness = await world.runtime.current().beforeRead({ kind: 'instances' });
        expect(freshness.failed, freshness.reason).to.equal(false);
        last = await compareWithWorld(world, c.source);
        expect(last, what).to.deep.equal([]);
        return;
      }
      const started = Date.now();
      await waitFor(async () => (last = await compareWithWorld(world, c.source)).length === 0, { timeoutMs: bound, what }).catch((err: Error) => {
        throw new Error(`${err.message} (bound ${Math.round(bound)} ms)\n${last.join('\n')}`);
      });
      expect(Date.now() - started).to.be.at.most(bound + 100);
    }

    it('the initial sync reproduces the ground truth', async () => {
      await converges(c.boundMs === 'next-read' ? 'next-read' : 5_000, 'initial sync');
      const { instances } = await world.gateway.store.counts();
      expect(instances).to.equal(world.sim.handle.world().instances.length);
      if (c.source === 'heat') {
        const sample = (await world.gateway.store.getInstance(world.sim.handle.world().instances[0]!.id)) as Instance;
        expect(sample).to.include({ source: c.name });
        expect(sample.addresses.private).to.have.length(1);
      }
    });

    it('observes a launch, a crash and a deletion within its bound', async () => {
      await converges(c.boundMs === 'next-read' ? 'next-read' : 5_000, 'initial sync');

      const launched = world.sim.handle.applyChange('launch');
      expect(launched.length).to.be.greaterThan(0);
      world.sim.handle.advance(5_000); // BUILD → ACTIVE, CREATE_IN_PROGRESS → CREATE_COMPLETE
      await converges(c.boundMs, 'launch');

      const victim = world.sim.handle.world().instances.find((i) => i.novaStatus === 'ACTIVE')!;
      world.sim.handle.applyChange('crash', victim.id, { crashTo: 'ERROR' });
      await converges(c.boundMs, 'crash');
      expect((await world.gateway.store.getInstance(victim.id))!.state).to.equal('error');

      const doomed = world.sim.handle.world().deployments.find((d) => d.id !== victim.deploymentId)!;
      world.sim.handle.applyChange('delete', doomed.id);
      world.sim.handle.advance(5_000); // DELETE_IN_PROGRESS → DELETE_COMPLETE
      await converges(c.deleteBoundMs, 'deletion');
      for (const id of doomed.instanceIds) expect((await world.gateway.store.getInstance(id))!.state, id).to.equal('vanished');
    });

    it('serves stale reads through a backend outage and recovers when the backend returns', async () => {
      await converges(c.boundMs === 'next-read' ? 'next-read' : 5_000, 'initial sync');
      const before = await cacheSnapshot(world);
      const outage = { outage: { durationMs: 600_000, mode: 'unavailable' as const } };
      world.sim.handle.setFaults({ heat: outage, deltacloud: outage });
      const victim = world.sim.handle.world().instances[0]!;
      world.sim.handle.applyChange('crash', victim.id, { crashTo: 'SHUTOFF' });

      const freshness = await world.runtime.current().beforeRead({ kind: 'instance', id: victim.id });
      if (c.name === 'on-demand') {
        expect(freshness.failed).to.equal(true);
        expect(freshness.reason).to.be.a('string');
      }
      // Whatever the strategy, the cache still answers with what it last knew.
      expect(await world.gateway.store.getInstance(victim.id)).to.not.equal(null);
      expect(await cacheSnapshot(world)).to.have.length(before.length);
      // ...and says at once that it could not refresh: within the strategy's next attempt,
      // not only once the data has aged past its bound.
      const read = () => send(world.url, 'GET', `/v1/instances/${encodeURIComponent(victim.id)}`, bearer(TOKENS.client));
      // webhook stores what a push says without asking the backend (that read is fresh); its
      // next attempt to ask is the resync, driven here rather than waited for.
      if (c.name === 'webhook') await world.runtime.scheduler.runNow('webhook.resync', { backend: 'heat-1' });
      const stale = await waitFor(async () => ((await read()).json.meta.stale ? (await read()).json.meta : undefined), {
        timeoutMs: c.recoveryBoundMs === 'next-read' ? 3_000 : c.recoveryBoundMs,
        what: 'a stale read during the outage',
      });
      expect(stale.staleReason).to.match(/failed|did not answer|503|unavailable/i);

      world.sim.handle.clearFaults();
      await converges(c.recoveryBoundMs, 'recovery');
      // Fresh again once the strategy refreshed successfully.
      await waitFor(async () => (await read()).json.meta.stale === false, {
        timeoutMs: c.recoveryBoundMs === 'next-read' ? 3_000 : c.recoveryBoundMs,
        what: 'a fresh read after recovery',
      });
    });

    it('never lets a malformed backend response into the cache', async () => {
      await converges(c.boundMs === 'next-read' ? 'next-read' : 5_000, 'initial sync');
      const before = await cacheSnapshot(world);
      const errorsBefore = await failedRuns(world);
      world.sim.handle.setFaults({ heat: { malformedRate: 1 }, deltacloud: { malformedRate: 1 } });
      // A launch: no push describes a new stack's servers (webhook stores what a push says
      // without a read), so every strategy has to ask the backend for it.
      world.sim.handle.applyChange('launch');
      if (c.name === 'on-demand') {
        expect((await world.runtime.current().beforeRead({ kind: 'instances' })).failed).to.equal(true);
      } else {
        // Wait until the strategy has met a malformed answer.
        await waitFor(async () => (await failedRuns(world)) > errorsBefore, { timeoutMs: 10_000, what: 'a failed backend read' });
      }
      expect(await cacheSnapshot(world)).to.deep.equal(before);
      world.sim.handle.clearFaults();
      await converges(c.recoveryBoundMs, 'recovery');
    });
  });
}
