import { expect } from 'chai';
import { Gateway } from '../../../src/gateway.js';
import { silentLogger } from '../../../src/log/logger.js';
import { defaultModules } from '../../../src/modules.js';
import { STRATEGY_NAMES } from '../../../src/strategy/registry.js';
import { testConfig, TOKENS } from '../../helpers/gateway.js';
import { runCli } from '../../helpers/process.js';

describe('admin verbs of the CLI against a running gateway', function () {
  this.timeout(60_000);
  let gateway: Gateway;
  let url: string;

  before(async () => {
    // One Deltacloud backend (never reached: nothing here polls it successfully) to switch per backend.
    const backends = [{ id: 'dc-1', kind: 'deltacloud', url: 'http://127.0.0.1:9/api', username: 'u', password: 'p', retries: 0, timeoutMs: 200 }];
    gateway = new Gateway({ config: await testConfig({ backends }), logger: silentLogger(), modules: defaultModules() });
    url = await gateway.start();
  });
  after(() => gateway.stop());

  /** Runs a verb with `token` (null: none at all). */
  async function cli(args: string[], token: string | null = TOKENS.admin) {
    const run = runCli(args, { HGW_URL: url, HGW_TOKEN: token ?? '' });
    const code = await run.exited;
    return { code, out: run.output() };
  }

  it('strategy get / set switch the gateway', async () => {
    const got = await cli(['strategy', 'get']);
    expect(got.code).to.equal(0);
    expect(JSON.parse(got.out)).to.include({ name: 'cached-poll' });
    const set = await cli(['strategy', 'set', 'deltacloud-poll']);
    expect(set.code, set.out).to.equal(0);
    expect(JSON.parse(set.out)).to.include({ name: 'deltacloud-poll', running: 'deltacloud-poll', changed: true });
  });

  it('a bad request prints the problem and the field, and exits 1', async () => {
    const typo = await cli(['strategy', 'set', 'cached-pol']);
    expect(typo.code).to.equal(1);
    expect(typo.out).to.include(`Allowed choices are ${STRATEGY_NAMES.join(', ')}`);
    const unreadable = await cli(['strategy', 'set', 'cached-poll', '--backend', 'dc-1']);
    expect(unreadable.code).to.equal(1);
    expect(unreadable.out).to.match(/400: .*\n\s+body\.name: 'cached-poll' cannot read a deltacloud backend/);
    const unknown = await cli(['strategy', 'set', 'deltacloud-poll', '--backend', 'dc-9']);
    expect(unknown.code).to.equal(1);
    expect(unknown.out).to.match(/404: no backend 'dc-9' is configured; use one of dc-1/);
  });

  it('strategy set --backend switches one backend', async () => {
    const set = await cli(['strategy', 'set', 'on-demand', '--backend', 'dc-1']);
    expect(set.code, set.out).to.equal(0);
    const state = JSON.parse(set.out) as { changed: boolean; backends: { backendId: string; strategy: string; source: string; running: string }[] };
    expect(state.changed).to.equal(true);
    expect(state.backends).to.deep.include.members([{ ...state.backends[0]!, backendId: 'dc-1', strategy: 'on-demand', source: 'admin', running: 'on-demand' }]);
  });

  it('without a token it says how to give one', async () => {
    const denied = await cli(['status'], null);
    expect(denied.code, denied.out).to.equal(1);
    expect(denied.out).to.match(/401: .*pass --token or set HGW_TOKEN/);
  });

  it('status, webhooks list and get answer the API JSON', async () => {
    const status = await cli(['status']);
    expect(status.code).to.equal(0);
    expect(JSON.parse(status.out)).to.have.keys('strategy', 'backends', 'cache', 'feed', 'queues', 'push');
    const created = (await (
      await fetch(`${url}/v1/webhooks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKENS.client}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url: 'http://127.0.0.1:9/hook', events: ['deployment.deleted'] }),
      })
    ).json()) as { id: string };
    const list = await cli(['webhooks', 'list'], TOKENS.client);
    expect(list.code).to.equal(0);
    expect((JSON.parse(list.out) as { items: { id: string }[] }).items.map((w) => w.id)).to.include(created.id);
    const one = await cli(['webhooks', 'get', created.id], TOKENS.client);
    expect(JSON.parse(one.out)).to.include({ id: created.id });
    const unknown = await cli(['deliveries', 'redeliver', created.id, `evt_${'0'.repeat(32)}`], TOKENS.client);
    expect(unknown.code).to.equal(1);
    expect(unknown.out).to.match(/^heat-gateway: 404: /m);
  });

  it('an unreachable gateway is named', async () => {
    const run = runCli(['strategy', 'get', '--url', 'http://127.0.0.1:9'], { HGW_TOKEN: TOKENS.admin });
    expect(await run.exited).to.equal(1);
    expect(run.output()).to.match(/cannot reach the gateway at http:\/\/127\.0\.0\.1:9 .*pass --url or set HGW_URL/);
  });
});
