/**
 * `heat-gateway bench --quick` as CI runs it: the JSON passes a schema check (all five modes,
 * every metric present and finite) and the numbers make sense against each other.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { BENCH_MODES } from '../../../src/bench/bench-modes.js';
import { runCli } from '../../helpers/process.js';
import { sharedRedisUrl } from '../../helpers/redis.js';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const load = z.object({ requestsPerSecond: finite, bytesPerSecond: finite, workUnitsPerSecond: finite }).strict();
const modeSchema = z
  .object({
    mode: z.string(),
    strategy: z.enum(BENCH_MODES as [string, ...string[]]),
    source: z.enum(['heat', 'deltacloud']),
    readRate: finite,
    backend: z.object({ heat: load, keystone: load, deltacloud: load, zaqar: load, total: load }).strict(),
    detection: z.object({ transitions: finite, detected: finite, p50Ms: finite, p95Ms: finite, p99Ms: finite, maxMs: finite }).strict(),
    webhook: z.object({ deliveries: finite, matched: finite, p50Ms: finite, p99Ms: finite, verificationFailures: finite }).strict(),
    missed: z
      .object({ count: finite, fraction: finite, reboots: z.object({ transitions: finite, missed: finite, fraction: finite }).strict() })
      .strict(),
    reads: z.object({ count: finite, errors: finite, p50Ms: finite, p99Ms: finite, staleFraction: finite, meanStalenessMs: finite }).strict(),
    requestsPerChange: finite,
    gateway: z.object({ cpuSeconds: finite, peakRssMiB: finite }).strict(),
    redis: z.object({ usedMemoryMiB: finite }).strict(),
  })
  .strict();
const reportSchema = z.object({
  config: z.object({ durationMs: finite, deployments: finite, instancesPerDeployment: finite, changeRate: finite, seed: z.string() }).passthrough(),
  results: z.array(modeSchema).min(BENCH_MODES.length + 1),
  machine: z.object({ cpus: finite, cpuModel: z.string(), memoryGiB: finite, platform: z.string(), node: z.string() }),
  at: z.string(),
});

describe('strategy benchmark --quick (smoke)', function () {
  this.timeout(15 * 60_000);
  let report: z.infer<typeof reportSchema>;
  const byMode = (mode: string) => report.results.find((r) => r.mode === mode)!;

  before(async () => {
    const out = mkdtempSync(join(tmpdir(), 'hgw-bench-quick-'));
    const cli = runCli(['bench', '--quick', '--out', out], { REDIS_URL: await sharedRedisUrl(), BENCH_GATEWAY_RUNTIME: 'source' });
    const code = await cli.exited;
    expect(code, cli.output().slice(-4_000)).to.equal(0);
    expect(readdirSync(out)).to.include.members(['strategies-quick.json', 'strategies-quick.md', 'strategies-quick-latency-vs-load.svg']);
    const parsed = reportSchema.safeParse(JSON.parse(readFileSync(join(out, 'strategies-quick.json'), 'utf8')));
    expect(parsed.success, JSON.stringify(parsed.error?.issues.slice(0, 5))).to.equal(true);
    report = parsed.data!;
  });

  it('covers every mode, and on-demand at a higher read rate', () => {
    expect(report.results.map((r) => r.strategy)).to.include.members([...BENCH_MODES]);
    expect(report.results.filter((r) => r.strategy === 'on-demand')).to.have.length(2);
  });

  it('mixed reports each cloud beside the single-strategy runs, each judged by its own truth', () => {
    const mixed = report.results.filter((r) => r.strategy === 'mixed');
    expect(mixed.map((r) => r.source)).to.deep.equal(['heat', 'deltacloud']);
    const [heatCloud, dcCloud] = mixed;
    // The Heat cloud is read only through Heat, the Deltacloud-only cloud only through Deltacloud.
    expect(heatCloud!.backend.deltacloud.requestsPerSecond).to.equal(0);
    expect(dcCloud!.backend.heat.requestsPerSecond).to.equal(0);
    expect(dcCloud!.backend.deltacloud.requestsPerSecond).to.be.greaterThan(0);
    expect(heatCloud!.detection.detected).to.be.greaterThan(0);
    expect(dcCloud!.detection.detected).to.be.greaterThan(0);
  });

  it('verifies every delivery and serves every read', () => {
    for (const r of report.results) {
      expect(r.webhook.verificationFailures, r.mode).to.equal(0);
      expect(r.webhook.deliveries, r.mode).to.be.greaterThan(0);
      expect(r.reads.errors, r.mode).to.equal(0);
      expect(r.reads.count, r.mode).to.be.greaterThan(0);
    }
  });

  it('webhook over AMQP trusts the notifications: fewer backend requests per change than over Zaqar', () => {
    expect(byMode('webhook-amqp').requestsPerChange).to.be.below(byMode('webhook').requestsPerChange);
    expect(byMode('webhook-amqp').detection.p50Ms).to.be.below(byMode('cached-poll').detection.p50Ms);
  });

  it('webhook detects faster than cached-poll', () => {
    expect(byMode('webhook').detection.p50Ms).to.be.below(byMode('cached-poll').detection.p50Ms);
    expect(byMode('webhook').detection.p99Ms).to.be.below(byMode('cached-poll').detection.p99Ms);
  });

  it('on-demand backend requests grow with reads', () => {
    const base = report.results.find((r) => r.mode === 'on-demand')!;
    const more = report.results.find((r) => r.strategy === 'on-demand' && r.mode !== 'on-demand')!;
    expect(more.readRate).to.be.greaterThan(base.readRate);
    expect(more.backend.heat.requestsPerSecond).to.be.greaterThan(base.backend.heat.requestsPerSecond * 1.5);
  });

  it('dbomatic-baseline makes about one request per instance per minute', () => {
    const r = byMode('dbomatic-baseline');
    const instances = report.config.deployments * report.config.instancesPerDeployment;
    const perInstancePerMinute = (r.backend.deltacloud.requestsPerSecond * 60) / instances;
    expect(perInstancePerMinute).to.be.within(0.7, 1.3);
    expect(r.backend.heat.requestsPerSecond).to.equal(0);
  });

  it('short reboots are missed by slow polling and seen by webhook', () => {
    const webhook = byMode('webhook').missed.reboots;
    const dbomatic = byMode('dbomatic-baseline').missed.reboots;
    expect(webhook.transitions).to.be.greaterThan(10);
    expect(webhook.fraction).to.be.below(0.2);
    expect(dbomatic.fraction).to.be.above(0.7);
    expect(byMode('cached-poll').missed.reboots.fraction).to.be.above(webhook.fraction);
  });
});
