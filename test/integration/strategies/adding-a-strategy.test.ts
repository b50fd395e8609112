/**
 * Adding a strategy is one new file in strategies/ plus one import and one array element in
 * strategies/index.ts (docs/adding-a-strategy.md). This test does exactly that in a copy of
 * the project in a temporary directory — strategies/deltacloud-poll.ts copied as
 * strategies/dc-poll-two.ts with its name changed, and registered — checks that nothing else
 * differs from this checkout, and then shows, in that copy: the config accepts the new name
 * and validates its options, /openapi.json lists it, `heat-gateway strategy set` accepts it
 * (and a running gateway switches to it), and the conformance suite runs it and passes.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { sharedRedisUrl, testPrefix } from '../../helpers/redis.js';

const NAME = 'dc-poll-two';
const ROOT = resolve('.');

/** Runs a child; one that outlives `deadlineMs` is killed, and its output so far says where it stood. */
function run(cmd: string[], cwd: string, env: NodeJS.ProcessEnv = {}, deadlineMs = 150_000): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const child = spawn(cmd[0]!, cmd.slice(1), { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => {
      out += `\n[killed: still running after ${deadlineMs} ms]`;
      child.kill('SIGKILL');
    }, deadlineMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, out });
    });
  });
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/** Checks run inside the copy (its src/ and strategies/), printed as one JSON line. */
const DRIVER = `
import { spawnSync } from 'node:child_process';
import { parseConfig } from './src/config/load.js';
import { Gateway } from './src/gateway.js';
import { silentLogger } from './src/log/logger.js';
import { defaultModules } from './src/modules.js';

const name = process.env.NEW_STRATEGY;
const out = {};
// Progress on stderr, so a run killed at its deadline shows the step it was in.
const step = (what) => process.stderr.write('step: ' + what + '\\n');
const config = parseConfig({
  server: { port: 0 },
  redis: { url: process.env.REDIS_URL, keyPrefix: process.env.PREFIX },
  auth: { tokens: [{ name: 'admin', token: 'admin-token-0123456789abcdef', role: 'admin' }] },
  strategy: { name, dcPollTwo: { intervalMs: 2000 } },
  log: { level: 'error', format: 'json' },
});
out.config = { name: config.strategy.name, options: config.strategy.dcPollTwo };
try {
  parseConfig({ strategy: { name, dcPollTwo: { intervalMs: 5 } } });
} catch (err) {
  out.badOptions = err.message;
}
const gateway = new Gateway({ config: { ...config, strategy: { ...config.strategy, name: 'on-demand' } }, logger: silentLogger(), modules: defaultModules() });
step('gateway starting');
const url = await gateway.start();
try {
  step('reading /openapi.json');
  const doc = await (await fetch(url + '/openapi.json')).json();
  out.openapiEnum = doc.paths['/admin/strategy'].put.requestBody.content['application/json'].schema.properties.name.enum;
  const cli = (await import('node:util')).promisify((await import('node:child_process')).execFile);
  step('strategy set');
  const set = await cli(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'strategy', 'set', name, '--url', url, '--token', 'admin-token-0123456789abcdef']);
  out.cli = JSON.parse(set.stdout);
  step('strategy set (typo)');
  const typo = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'strategy', 'set', name + 'x', '--url', url, '--token', 'admin-token-0123456789abcdef'], { encoding: 'utf8' });
  out.cliTypo = { status: typo.status, stderr: typo.stderr.split('\\n')[0] };
} finally {
  step('gateway stopping');
  await gateway.stop();
}
console.log(JSON.stringify(out));
`;

describe('adding a strategy: one file and one array element', function () {
  this.timeout(180_000);
  let copy: string;

  before(() => {
    copy = mkdtempSync(join(tmpdir(), 'hgw-add-strategy-'));
    for (const entry of ['src', 'strategies', 'test', 'package.json', 'tsconfig.json', '.mocharc.json']) cpSync(entry, join(copy, entry), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));

    // The two steps of docs/adding-a-strategy.md.
    const source = readFileSync('strategies/deltacloud-poll.ts', 'utf8');
    expect(source).to.include("name: 'deltacloud-poll',");
    writeFileSync(join(copy, 'strategies', `${NAME}.ts`), source.replace("name: 'deltacloud-poll',", `name: '${NAME}',`));
    const index = readFileSync('strategies/index.ts', 'utf8');
    const lastImport = index.lastIndexOf('\nimport ');
    const afterImports = index.indexOf('\n', lastImport + 1) + 1;
    let edited = `${index.slice(0, afterImports)}import dcPollTwo from './${NAME}.js';\n${index.slice(afterImports)}`;
    edited = edited.replace(/(export const STRATEGIES[^=]*= \[[^\]]*)\]/, '$1, dcPollTwo]');
    expect(edited).to.include(', dcPollTwo]');
    writeFileSync(join(copy, 'strategies', 'index.ts'), edited);
  });

  after(() => rmSync(copy, { recursive: true, force: true }));

  it('changes no other file', () => {
    const changed: string[] = [];
    for (const file of files(join(copy, 'src')).concat(files(join(copy, 'strategies')), files(join(copy, 'test')))) {
      const rel = relative(copy, file);
      let original: string | undefined;
      try {
        original = readFileSync(join(ROOT, rel), 'utf8');
      } catch {
        original = undefined;
      }
      if (original !== readFileSync(file, 'utf8')) changed.push(rel);
    }
    expect(changed.sort()).to.deep.equal([`strategies/${NAME}.ts`, 'strategies/index.ts']);
  });

  it('config validation, /openapi.json and `heat-gateway strategy set` know it', async () => {
    const driver = join(copy, 'check-added-strategy.ts');
    writeFileSync(driver, DRIVER);
    const { code, out } = await run([process.execPath, '--import', 'tsx', driver], copy, {
      NEW_STRATEGY: NAME,
      REDIS_URL: await sharedRedisUrl(),
      PREFIX: testPrefix(),
    });
    expect(code, out).to.equal(0);
    const result = JSON.parse(out.split('\n').findLast((line) => line.startsWith('{'))!) as Record<string, { [k: string]: unknown }>;
    expect(result.config).to.deep.equal({ name: NAME, options: { intervalMs: 2_000, jitter: 0.1 } });
    expect(String(result.badOptions)).to.match(/strategy\.dcPollTwo\.intervalMs: must be at least 100 ms/);
    expect(result.openapiEnum).to.include(NAME);
    expect(result.cli).to.include({ name: NAME, running: NAME, changed: true });
    expect(result.cliTypo).to.deep.include({ status: 1 });
    expect(String(result.cliTypo!.stderr)).to.include(`Allowed choices are`).and.include(NAME);
  });

  it('the conformance suite runs it, and it passes', async () => {
    const { code, out } = await run([process.execPath, join(ROOT, 'node_modules/mocha/bin/mocha.js'), 'test/integration/strategies/conformance.test.ts', '--grep', `conformance: ${NAME} `], copy, {
      REDIS_URL: await sharedRedisUrl(),
    });
    expect(code, out.slice(-3_000)).to.equal(0);
    expect(out).to.include(`strategy conformance: ${NAME}`);
    expect(out).to.match(/4 passing/);
  });
});
