/** `heat-gateway demo` starts from an empty keyspace unless --keep-data, and says which. */
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { runCli, type CliProcess } from '../../helpers/process.js';
import { freePort, sharedRedisUrl, waitFor } from '../../helpers/redis.js';

describe('heat-gateway demo', function () {
  this.timeout(60_000);
  let redis: Redis;
  let demo: CliProcess | undefined;
  const planted = '{hgw-demo}:wh:e:wh_from_a_previous_run';

  before(async () => {
    redis = new Redis(await sharedRedisUrl());
  });
  afterEach(async () => {
    await demo?.stop('SIGINT');
    demo = undefined;
  });
  after(async () => {
    await redis.del(planted);
    await redis.quit();
  });

  async function run(args: string[]): Promise<CliProcess> {
    const cli = runCli(['demo', '--port', String(await freePort()), '--change-rate', '0', ...args], { REDIS_URL: await sharedRedisUrl() });
    await waitFor(() => cli.output().includes('Ctrl-C stops everything'), { timeoutMs: 30_000, what: `the demo to start:\n${cli.output()}` });
    return cli;
  }

  it("empties its keyspace at start, and says so", async () => {
    await redis.set(planted, '{"url":"http://gone.example/"}');
    demo = await run([]);
    expect(await redis.exists(planted)).to.equal(0);
    expect(demo.output()).to.match(/keyspace +\{hgw-demo\}:\* emptied at start; pass --keep-data to keep it/);
  });

  it("keeps the previous run's data with --keep-data, and says so", async () => {
    await redis.set(planted, '{"url":"http://gone.example/"}');
    demo = await run(['--keep-data']);
    expect(await redis.exists(planted)).to.equal(1);
    expect(demo.output()).to.match(/keyspace +\{hgw-demo\}:\* kept from the previous run \(--keep-data\)/);
  });
});
