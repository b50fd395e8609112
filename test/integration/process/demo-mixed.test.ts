/**
 * `heat-gateway demo --mixed`: two simulated clouds in one gateway, a strategy each. The demo
 * prints both clouds; the gateway reports each backend's strategy and serves instances of both.
 */
import { expect } from 'chai';
import { runCli } from '../../helpers/process.js';
import { sharedRedisUrl, waitFor } from '../../helpers/redis.js';

describe('heat-gateway demo --mixed', function () {
  this.timeout(90_000);

  it('runs a Heat cloud on webhook and a Deltacloud-only cloud on deltacloud-poll, and prints both', async () => {
    const demo = runCli(['demo', '--mixed', '--port', '0', '--deployments', '2', '--instances-per-deployment', '2', '--change-rate', '0'], {
      REDIS_URL: await sharedRedisUrl(),
    });
    try {
      await waitFor(() => demo.output().includes('Ctrl-C stops everything.'), { timeoutMs: 60_000, what: 'the demo banner' });
      const out = demo.output();
      expect(out).to.match(/heat cloud\s+http:\/\/\S+\s+\(backend heat-sim on webhook/);
      expect(out).to.match(/dc cloud\s+http:\/\/\S+\s+\(backend dc-sim on deltacloud-poll, Deltacloud only/);
      const url = /gateway\s+(http:\/\/\S+)/.exec(out)![1]!;
      const admin = /admin token\s+(\S+)/.exec(out)![1]!;
      const client = /client token\s+(\S+)/.exec(out)![1]!;
      const state = (await (await fetch(`${url}/admin/strategy`, { headers: { authorization: `Bearer ${admin}` } })).json()) as {
        backends: { backendId: string; strategy: string; running: string }[];
      };
      expect(state.backends.map((b) => [b.backendId, b.strategy, b.running])).to.deep.equal([
        ['heat-sim', 'webhook', 'webhook'],
        ['dc-sim', 'deltacloud-poll', 'deltacloud-poll'],
      ]);
      // Both clouds reach the cache: 4 instances each, from their own backend.
      await waitFor(
        async () => {
          const page = (await (await fetch(`${url}/v1/instances?limit=100`, { headers: { authorization: `Bearer ${client}` } })).json()) as {
            data: { backend: { id: string } }[];
          };
          const by = (id: string) => page.data.filter((i) => i.backend.id === id).length;
          return by('heat-sim') === 4 && by('dc-sim') === 4;
        },
        { timeoutMs: 30_000, what: 'instances of both clouds' },
      );
    } finally {
      expect(await demo.stop('SIGINT')).to.equal(0);
    }
  });
});
