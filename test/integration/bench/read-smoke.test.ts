/**
 * `bench/read-throughput.ts` at a small size, as CI can afford it: the real gateway (sources
 * through tsx) and the bare express route over the same seeded cache, each scenario once.
 * The benchmark fails a run in which either server answers anything but the expected status
 * (200, or 304 to a matching If-None-Match): when the store's layout moves, the bare route
 * has to read it too. Speed is not asserted here.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTsx } from '../../helpers/process.js';
import { sharedRedisUrl } from '../../helpers/redis.js';

type Figures = { requestsPerSecond: number; total: number };

describe('read benchmark (smoke)', function () {
  this.timeout(5 * 60_000);

  it('answers every request of every scenario as expected, on the gateway and the bare route', async () => {
    const out = mkdtempSync(join(tmpdir(), 'hgw-bench-read-'));
    try {
      const run = runTsx(['bench/read-throughput.ts', '--instances', '200', '--connections', '4', '--duration', '1', '--rounds', '1', '--out', out], {
        REDIS_URL: await sharedRedisUrl(),
        BENCH_GATEWAY_RUNTIME: 'source',
      });
      const code = await run.exited;
      expect(code, run.output().slice(-4_000)).to.equal(0);
      const result = JSON.parse(readFileSync(join(out, 'read-throughput.json'), 'utf8')) as {
        instances: number;
        results: Record<string, { baseline: Figures; gateway: Figures; ratio: number }>;
      };
      expect(result.instances).to.equal(200);
      expect(Object.keys(result.results)).to.have.members(['one', 'page', '304']);
      for (const [scenario, { baseline, gateway, ratio }] of Object.entries(result.results)) {
        expect(baseline.total, `${scenario}: baseline requests`).to.be.greaterThan(0);
        expect(gateway.total, `${scenario}: gateway requests`).to.be.greaterThan(0);
        expect(ratio, scenario).to.be.a('number').and.greaterThan(0);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
