import { expect } from 'chai';
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/load.js';
import { ConfigWatcher } from '../../src/config/config-watcher.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { waitFor } from '../helpers/redis.js';

describe('ConfigWatcher', () => {
  let dir: string;
  let file: string;
  let watcher: ConfigWatcher;
  let published: Config[];
  let logLines: string[];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hgw-cfg-'));
    file = join(dir, 'gateway.yaml');
    writeFileSync(file, 'strategy:\n  name: cached-poll\n');
    logLines = [];
    const stream = new Writable({
      write(chunk: Buffer, _e, done) {
        logLines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    watcher = new ConfigWatcher(file, loadConfig(file, {}), createLogger({ stream, format: 'json' }), { env: {}, debounceMs: 20, sighup: false });
    published = [];
    watcher.subscribe((next) => void published.push(next));
    watcher.start();
  });

  afterEach(() => watcher.stop());

  it('publishes a valid edit of the file', async () => {
    writeFileSync(file, 'strategy:\n  name: webhook\n');
    await waitFor(() => published.length === 1, { what: 'a published config' });
    expect(published[0]!.strategy.name).to.equal('webhook');
    expect(watcher.config.strategy.name).to.equal('webhook');
  });

  it('follows an editor that replaces the file', async () => {
    const temp = join(dir, '.gateway.yaml.swp');
    writeFileSync(temp, 'strategy:\n  name: on-demand\n');
    renameSync(temp, file);
    await waitFor(() => published.length === 1, { what: 'a published config' });
    expect(published[0]!.strategy.name).to.equal('on-demand');
  });

  it('rejects an invalid edit with one clear log line and keeps the running config', async () => {
    writeFileSync(file, 'strategy:\n  name: cached-pol\n');
    expect(await watcher.reload('test')).to.equal(false);
    expect(published).to.have.length(0);
    expect(watcher.config.strategy.name).to.equal('cached-poll');
    const errors = logLines.map((l) => JSON.parse(l) as { level: string; message: string }).filter((l) => l.level === 'error');
    expect(errors.length).to.be.at.least(1);
    expect(errors[0]!.message).to.match(/config change rejected.*strategy\.name: 'cached-pol' is unknown; use one of/);
    // The next valid edit still goes through.
    writeFileSync(file, 'strategy:\n  name: deltacloud-poll\n');
    expect(await watcher.reload('test')).to.equal(true);
    expect(published.map((c) => c.strategy.name)).to.deep.equal(['deltacloud-poll']);
  });

  it('does not publish an edit that changes nothing', async () => {
    writeFileSync(file, `${readFileSync(file, 'utf8')}# a comment\n`);
    expect(await watcher.reload('test')).to.equal(false);
    expect(published).to.have.length(0);
  });

  it('reloads on SIGHUP', async () => {
    const hup = new ConfigWatcher(file, loadConfig(file, {}), createLogger({ stream: new Writable({ write: (_c, _e, d) => d() }) }), { env: {} });
    const seen: string[] = [];
    hup.subscribe((next) => void seen.push(next.strategy.name));
    hup.start();
    try {
      writeFileSync(file, 'strategy:\n  name: webhook\n');
      process.kill(process.pid, 'SIGHUP');
      await waitFor(() => seen.includes('webhook'), { what: 'SIGHUP reload' });
    } finally {
      hup.stop();
    }
  });
});
