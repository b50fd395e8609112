/**
 * Every benchmark that drives the real gateway, at a size CI can afford (the sources through
 * tsx): each must run to the end and write a result whose figures are present and agree with
 * what was asked. A benchmark fails its own run on a wrong answer (bench:read on any status
 * but 200 or 304, bench:delivery on a delivery missing); these runs are what notice when a
 * change to the gateway or the store breaks one. Speed is not asserted here.
 * (bench:observe has a smoke test of its own, observe-smoke.test.ts.)
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTsx } from '../../helpers/process.js';
import { sharedRedisUrl } from '../../helpers/redis.js';

type Result = Record<string, unknown>;
type Figures = { requestsPerSecond: number; total: number };

const smokes: { bench: string; args: string[]; sharedRedis: boolean; check: (result: Result) => void }[] = [
  {
    bench: 'read-throughput',
    args: ['--instances', '200', '--connections', '4', '--duration', '1', '--rounds', '1'],
    sharedRedis: true,
    check: (result) => {
      const results = result.results as Record<string, { baseline: Figures; gateway: Figures; ratio: number }>;
      expect(Object.keys(results)).to.have.members(['one', 'page', '304']);
      for (const [scenario, { baseline, gateway, ratio }] of Object.entries(results)) {
        expect(baseline.total, `${scenario}: baseline requests`).to.be.greaterThan(0);
        expect(gateway.total, `${scenario}: gateway requests`).to.be.greaterThan(0);
        expect(ratio, scenario).to.be.greaterThan(0);
      }
    },
  },
  {
    bench: 'delivery',
    args: ['--events', '200', '--rate', '100', '--warmup', '1', '--seconds', '1', '--rounds', '1', '--concurrency', '10'],
    // A private redis-server: the commands counted per delivery are the run's alone.
    sharedRedis: false,
    check: (result) => {
      const latency = result.latencyMs as { deliveries: number; missing: number; duplicates: number };
      // 100 events/s to 2 endpoints for 1 s, after the warm-up.
      expect(latency).to.include({ deliveries: 200, missing: 0, duplicates: 0 });
      expect((result.peakPerSecond as number[])[0]).to.be.greaterThan(0);
      // The benchmark's one feed append per event, and the delivery scripts.
      const commands = result.redisCommandsPerDelivery as Record<string, number>;
      expect(commands.xadd).to.be.within(0.99, 1.05);
      expect(commands.evalsha).to.be.greaterThan(1);
    },
  },
  {
    bench: 'replicas',
    args: ['--replicas', '1,2', '--instances', '200', '--connections', '4', '--duration', '1'],
    sharedRedis: true,
    check: (result) => {
      const runs = result.runs as { replicas: number; perReplica: { requests: number }[] }[];
      expect(runs.map((run) => run.replicas)).to.deep.equal([1, 2]);
      for (const run of runs) {
        expect(run.perReplica).to.have.length(run.replicas);
        for (const replica of run.perReplica) expect(replica.requests).to.be.greaterThan(0);
      }
    },
  },
  {
    bench: 'scale',
    // A redis-server and simulator of its own per size, always.
    args: ['--quick', '--strategies', 'webhook'],
    sharedRedis: false,
    check: (result) => {
      const [row] = result.rows as Result[];
      expect(row).to.include({ strategy: 'webhook', instances: 2_000, readsFailed: 0, pagedInstances: 2_000 });
      expect(row!.redisBytesPerInstance).to.be.greaterThan(0);
    },
  },
];

describe('benchmarks (smoke)', function () {
  this.timeout(5 * 60_000);

  for (const { bench, args, sharedRedis, check } of smokes) {
    it(`bench/${bench}.ts runs to the end through heat-gateway start and writes its result`, async () => {
      const out = mkdtempSync(join(tmpdir(), `hgw-bench-${bench}-`));
      try {
        const run = runTsx([`bench/${bench}.ts`, ...args, '--out', out], {
          ...(sharedRedis ? { REDIS_URL: await sharedRedisUrl() } : {}),
          BENCH_GATEWAY_RUNTIME: 'source',
        });
        const code = await run.exited;
        expect(code, run.output().slice(-4_000)).to.equal(0);
        check(JSON.parse(readFileSync(join(out, `${bench}.json`), 'utf8')) as Result);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    });
  }
});
