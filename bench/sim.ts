/**
 * Simulator throughput: a 10,000-instance world (1,000 stacks × 10 servers, changing at
 * 2 changes/s in real time) read by 20 concurrent clients.
 *
 *   npx tsx bench/sim.ts [--stacks 1000] [--per-stack 10] [--concurrency 20] [--requests 2000]
 *
 * Scenarios: Heat resource list with_detail (one random stack per request), Deltacloud
 * instance list (all instances, XML and JSON). Prints p50/p99 latency per scenario.
 */
import { parseArgs } from 'node:util';
import { startSimulator, type Simulator } from '../src/sim/simulator.js';

const { values } = parseArgs({
  options: {
    stacks: { type: 'string', default: '1000' },
    'per-stack': { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '20' },
    requests: { type: 'string', default: '2000' },
    'list-requests': { type: 'string', default: '200' },
    'change-rate': { type: 'string', default: '2' },
  },
});

interface Result {
  name: string;
  requests: number;
  errors: number;
  p50: number;
  p99: number;
  mean: number;
  rps: number;
  kbPerResponse: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function run(name: string, total: number, concurrency: number, request: () => Promise<Response>): Promise<Result> {
  const latencies: number[] = [];
  let errors = 0;
  let bytes = 0;
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next += 1;
        const t0 = performance.now();
        try {
          const res = await request();
          const body = await res.arrayBuffer();
          bytes += body.byteLength;
          if (!res.ok) errors += 1;
        } catch {
          errors += 1;
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = performance.now() - start;
  latencies.sort((a, b) => a - b);
  return {
    name,
    requests: latencies.length,
    errors,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    mean: latencies.reduce((s, x) => s + x, 0) / latencies.length,
    rps: latencies.length / (elapsed / 1000),
    kbPerResponse: bytes / latencies.length / 1024,
  };
}

async function main(): Promise<void> {
  const stacks = Number(values.stacks);
  const perStack = Number(values['per-stack']);
  const concurrency = Number(values.concurrency);
  const t0 = performance.now();
  const sim: Simulator = await startSimulator({
    seed: 2024,
    deployments: stacks,
    instancesPerDeployment: perStack,
    changeRate: Number(values['change-rate']),
    clock: 'real',
  });
  const startupMs = performance.now() - t0;
  try {
    const c = sim.credentials;
    const auth = await fetch(`${sim.keystoneUrl}/auth/tokens`, {
      method: 'POST',
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { name: c.username, domain: { name: c.userDomain }, password: c.password } } },
          scope: { project: { id: c.projectId } },
        },
      }),
    });
    const token = auth.headers.get('x-subject-token') ?? '';
    await auth.arrayBuffer();
    const world = sim.handle.world();
    const ids = world.deployments.map((d) => `${d.name}/${d.id}`);
    let i = 0;
    const basic = `Basic ${Buffer.from(`${c.deltacloudUser}:${c.deltacloudPassword}`).toString('base64')}`;
    const results: Result[] = [];
    results.push(
      await run('heat resources with_detail (1 stack)', Number(values.requests), concurrency, () =>
        fetch(`${sim.heatUrl}/stacks/${ids[(i++ * 7919) % ids.length] ?? ''}/resources?with_detail=true`, {
          headers: { 'X-Auth-Token': token },
        }),
      ),
    );
    results.push(
      await run('heat stacks list (limit 100)', Number(values.requests), concurrency, () =>
        fetch(`${sim.heatUrl}/stacks?limit=100`, { headers: { 'X-Auth-Token': token } }),
      ),
    );
    results.push(
      await run(`deltacloud instances XML (${world.instances.length})`, Number(values['list-requests']), concurrency, () =>
        fetch(`${sim.deltacloudUrl}/instances`, { headers: { Authorization: basic } }),
      ),
    );
    results.push(
      await run(`deltacloud instances JSON (${world.instances.length})`, Number(values['list-requests']), concurrency, () =>
        fetch(`${sim.deltacloudUrl}/instances`, { headers: { Authorization: basic, Accept: 'application/json' } }),
      ),
    );
    const stats = sim.handle.stats();
    const pad = (s: string, n: number): string => s.padEnd(n);
    const num = (x: number, d = 1): string => x.toFixed(d).padStart(9);
    console.log(
      `\nworld: ${world.deployments.length} stacks, ${world.instances.length} instances, change rate ${values['change-rate']}/s; startup ${startupMs.toFixed(0)} ms; ${concurrency} concurrent clients\n`,
    );
    console.log(`${pad('scenario', 42)}${'requests'.padStart(9)}${'errors'.padStart(8)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'mean ms'.padStart(9)}${'req/s'.padStart(9)}${'KB/resp'.padStart(9)}`);
    for (const r of results) {
      console.log(`${pad(r.name, 42)}${String(r.requests).padStart(9)}${String(r.errors).padStart(8)}${num(r.p50)}${num(r.p99)}${num(r.mean)}${num(r.rps, 0)}${num(r.kbPerResponse)}`);
    }
    console.log(`\nmodeled backend work units: heat ${stats.apis.heat?.workUnits ?? 0}, deltacloud ${stats.apis.deltacloud?.workUnits ?? 0}; truth records: ${sim.handle.truth().length}`);
  } finally {
    await sim.close();
  }
}

await main();
