import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { ConfigError, loadConfig, parseConfig, parseConfigText } from '../../src/config/load.js';
import { STRATEGY_NAMES } from '../../src/strategy/registry.js';

const HEAT_OK = {
  id: 'heat-1',
  kind: 'heat',
  keystone: { url: 'http://127.0.0.1:5000/v3', username: 'u', password: 'p', projectName: 'demo' },
};

function rejects(doc: unknown, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    parseConfig(doc, 'test.yaml', env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }
  expect.fail('config was accepted');
}

describe('config', () => {
  it('an empty file yields the documented defaults', () => {
    const cfg = parseConfig({});
    expect(cfg.server).to.include({ host: '127.0.0.1', port: 8080 });
    expect(cfg.redis).to.include({ url: 'redis://127.0.0.1:6379', keyPrefix: '{hgw}:' });
    expect(cfg.strategy.name).to.equal('cached-poll');
    expect(cfg.strategy.cachedPoll).to.include({ intervalMs: 30_000, fastIntervalMs: 2_000 });
    expect(cfg.webhooks.retryScheduleMs).to.deep.equal([0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
    expect(cfg.webhooks.disableAfterMs).to.equal(5 * 86_400_000);
  });

  it('every shipped config file validates', () => {
    const files = readdirSync('config').filter((f) => f.endsWith('.yaml'));
    expect(files).to.include('default.yaml');
    for (const file of files) loadConfig(`config/${file}`, {});
  });

  it('config/default.yaml documents every key it sets with a comment', () => {
    const lines = readFileSync('config/default.yaml', 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (/^\s*[a-zA-Z][\w-]*:\s*\S/.test(line) && !line.includes('#')) {
        const above = lines[i - 1] ?? '';
        expect(above.trim().startsWith('#') || /^\s*-/.test(line), `line ${i + 1} '${line.trim()}' has no comment`).to.equal(true);
      }
    });
  });

  const DC = { id: 'dc-1', kind: 'deltacloud', url: 'http://dc.example:3001/api', username: 'u', password: 'p' };

  it('a backend may run its own strategy, with its own options', () => {
    const cfg = parseConfig({ strategy: { name: 'webhook' }, backends: [{ ...DC, strategy: { name: 'deltacloud-poll', deltacloudPoll: { intervalMs: 60_000 } } }] });
    expect(cfg.backends[0]!.strategy).to.deep.equal({ name: 'deltacloud-poll', options: { intervalMs: 60_000, jitter: 0.1 } });
    expect(parseConfig({ backends: [{ ...DC, strategy: 'on-demand' }] }).backends[0]!.strategy).to.deep.equal({ name: 'on-demand' });
  });

  // Each bad config, the key its error must name, and a fragment of the fix.
  const BAD: [string, unknown, string, RegExp][] = [
    ['unknown strategy', { strategy: { name: 'cached-pol' } }, 'strategy.name', new RegExp(`'cached-pol' is unknown; use one of ${STRATEGY_NAMES.join(', ')}`)],
    ['port out of range', { server: { port: 70_000 } }, 'server.port', /0-65535/],
    ['port as text', { server: { port: 'eighty' } }, 'server.port', /number/],
    ['bad redis URL', { redis: { url: 'localhost:6379' } }, 'redis.url', /redis:\/\//],
    ['prefix without hash tag', { redis: { keyPrefix: 'hgw:' } }, 'redis.keyPrefix', /hash tag/],
    ['misspelt section', { sever: { port: 1 } }, 'sever', /not a known key/],
    ['misspelt key', { server: { prot: 1 } }, 'server.prot', /not a known key/],
    ['short token', { auth: { tokens: [{ name: 'c', token: 'abc', role: 'client' }] } }, 'auth.tokens.0.token', /at least 16/],
    ['unknown role', { auth: { tokens: [{ name: 'c', token: 'x'.repeat(20), role: 'root' }] } }, 'auth.tokens.0.role', /client, admin, backend/],
    ['backend kind', { backends: [{ id: 'x', kind: 'nova' }] }, 'backends.0.kind', /heat|deltacloud/],
    ['bad keystone URL', { backends: [{ ...HEAT_OK, keystone: { ...HEAT_OK.keystone, url: 'keystone:5000' } }] }, 'backends.0.keystone.url', /keystone\.url/],
    ['heat without credentials', { backends: [{ id: 'h', kind: 'heat' }] }, 'backends.0.keystone', /keystone credentials, or both endpoint and token/],
    ['keystone without project', { backends: [{ ...HEAT_OK, keystone: { url: 'http://k/v3', username: 'u', password: 'p' } }] }, 'backends.0.keystone.projectId', /projectName/],
    ['duplicate backend id', { backends: [HEAT_OK, HEAT_OK] }, 'backends.1.id', /already used/],
    ['deltacloud without url', { backends: [{ id: 'dc', kind: 'deltacloud', username: 'u', password: 'p' }] }, 'backends.0.url', /required/],
    ['uppercase backend id', { backends: [{ ...HEAT_OK, id: 'Heat One' }] }, 'backends.0.id', /lowercase/],
    ['fast interval above slow', { strategy: { name: 'cached-poll', cachedPoll: { intervalMs: 1_000, fastIntervalMs: 5_000 } } }, 'strategy.cachedPoll.fastIntervalMs', /must not exceed/],
    ['negative interval', { strategy: { name: 'cached-poll', cachedPoll: { intervalMs: -5 } } }, 'strategy.cachedPoll.intervalMs', /at least/],
    ['empty retry schedule', { webhooks: { retryScheduleMs: [] } }, 'webhooks.retryScheduleMs', /at least one/],
    ['bad CIDR', { webhooks: { allowNetworks: ['localhost'] } }, 'webhooks.allowNetworks.0', /CIDR/],
    ['jitter above 1', { webhooks: { jitter: 2 } }, 'webhooks.jitter', /between 0 and 1/],
    ['log level', { log: { level: 'verbose' } }, 'log.level', /error, warn, info, debug/],
    ['name pattern without group', { strategy: { name: 'deltacloud-poll', deltacloudPoll: { namePattern: '^(.*)-' } } }, 'strategy.deltacloudPoll.namePattern', /\(\?<deployment>/],
    ['not a mapping', ['server'], '(top level)', /mapping/],
    ['a backend strategy that cannot read it', { backends: [{ ...DC, strategy: 'cached-poll' }] }, 'backends.0.strategy', /'cached-poll' cannot read a deltacloud backend \(it reads heat\); for backend 'dc-1' use one of on-demand, deltacloud-poll/],
    ['an unknown backend strategy', { backends: [{ ...DC, strategy: { name: 'dc-pol' } }] }, 'backends.0.strategy.name', /'dc-pol' is unknown; use one of/],
    ['bad backend strategy options', { backends: [{ ...DC, strategy: { name: 'deltacloud-poll', deltacloudPoll: { intervalMs: 5 } } }] }, 'backends.0.strategy.deltacloudPoll.intervalMs', /at least 100 ms/],
    ['another strategy\'s options on a backend', { backends: [{ ...DC, strategy: { name: 'deltacloud-poll', cachedPoll: {} } }] }, 'backends.0.strategy.cachedPoll', /its options go under 'deltacloudPoll'/],
  ];

  for (const [title, doc, key, fix] of BAD) {
    it(`rejects ${title}, naming ${key}`, () => {
      const err = rejects(doc);
      const problem = err.problems.find((p) => p.key === key);
      expect(problem, `problems: ${JSON.stringify(err.problems)}`).to.not.equal(undefined);
      expect(problem!.message).to.match(fix);
      expect(err.message).to.contain(key);
    });
  }

  it('rejects invalid YAML with its line', () => {
    expect(() => parseConfigText('server:\n  port: [1,\n', 'x.yaml')).to.throw(ConfigError, /not valid YAML at line/);
  });

  it('rejects duplicate YAML keys', () => {
    expect(() => parseConfigText('server:\n  port: 1\n  port: 2\n', 'x.yaml')).to.throw(ConfigError, /not valid YAML/);
  });

  it('names the file that cannot be read', () => {
    expect(() => loadConfig('/nonexistent/hgw.yaml', {})).to.throw(ConfigError, /hgw\.yaml[\s\S]*cannot be read/);
  });

  it('keystone names the user by username or by userId, exactly one', () => {
    const backend = (keystone: Record<string, unknown>) => ({
      backends: [{ id: 'h', kind: 'heat', keystone: { url: 'http://ks:5000', password: 'p', projectId: 'x', ...keystone } }],
    });
    expect(parseConfig(backend({ userId: 'u-1' }), 'x').backends[0]).to.have.nested.property('keystone.userId', 'u-1');
    expect(parseConfig(backend({ username: 'bob' }), 'x').backends[0]).to.have.nested.property('keystone.username', 'bob');
    for (const bad of [{}, { username: 'bob', userId: 'u-1' }]) {
      const err = rejects(backend(bad));
      expect(err.problems[0]!.key).to.equal('backends.0.keystone.username');
      expect(err.problems[0]!.message).to.match(/username .* or by userId/);
    }
  });

  describe('environment overrides', () => {
    it('REDIS_URL sets redis.url', () => {
      expect(parseConfig({}, 'x', { REDIS_URL: 'redis://10.1.2.3:6380' }).redis.url).to.equal('redis://10.1.2.3:6380');
    });

    it('HGW_SECTION__KEY sets nested keys, typed as YAML scalars', () => {
      const cfg = parseConfig({ server: { port: 1 } }, 'x', {
        HGW_SERVER__PORT: '9000',
        HGW_STRATEGY__NAME: 'webhook',
        HGW_STRATEGY__CACHED_POLL__INTERVAL_MS: '60000',
        HGW_WEBHOOKS__ALLOW_NETWORKS: '[127.0.0.0/8, "::1/128"]',
        HGW_CONFIG: 'ignored.yaml',
        HOME: '/root',
      });
      expect(cfg.server.port).to.equal(9000);
      expect(cfg.strategy.name).to.equal('webhook');
      expect((cfg.strategy.cachedPoll as { intervalMs: number }).intervalMs).to.equal(60_000);
      expect(cfg.webhooks.allowNetworks).to.deep.equal(['127.0.0.0/8', '::1/128']);
    });

    it('a bad override names the variable, its value and the key it sets', () => {
      const err = rejects({}, { HGW_SERVER__PORT: 'abc' });
      expect(err.problems[0]!.key).to.equal('HGW_SERVER__PORT');
      expect(err.message).to.contain('HGW_SERVER__PORT: must be a number, got "abc" (sets server.port)');
      const custom = rejects({}, { HGW_STRATEGY__NAME: 'cached-pol' });
      expect(custom.message).to.contain("HGW_STRATEGY__NAME: 'cached-pol' is unknown; use one of on-demand");
      expect(rejects({}, { REDIS_URL: 'http://x' }).problems[0]!.key).to.equal('REDIS_URL');
    });

    it('an unknown section or key from the environment says it came from the environment', () => {
      const section = rejects({}, { HGW_SEVRER__PORT: '1' });
      expect(section.problems[0]!.key).to.equal('HGW_SEVRER__PORT');
      expect(section.problems[0]!.message).to.match(/unknown section 'sevrer' \(this comes from the environment, not the config file\); known sections: server, redis/);
      const key = rejects({}, { HGW_SERVER__PROT: '1' });
      expect(key.problems[0]!.message).to.match(/unknown key 'prot' under server \(this comes from the environment/);
      // The same mistake in the file is reported under the file's key.
      expect(rejects({ sevrer: {} }).problems[0]!.key).to.equal('sevrer');
    });

    it('cannot reach the prototype', () => {
      const err = rejects({}, { HGW___PROTO____POLLUTED: 'yes' });
      expect(err.problems[0]!.message).to.match(/not a known key|unknown section/);
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    });
  });
});
