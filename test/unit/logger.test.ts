import { expect } from 'chai';
import { Writable } from 'node:stream';
import { createLogger, redact, redactText, REDACTED } from '../../src/log/logger.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { stream, lines, json: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('logger', () => {
  it('writes JSON lines when not on a TTY', () => {
    const out = capture();
    createLogger({ stream: out.stream }).info('hello', { n: 1 });
    const [line] = out.json();
    expect(line).to.include({ level: 'info', message: 'hello', n: 1 });
    expect(line!.timestamp).to.be.a('string');
  });

  it('child loggers carry their context', () => {
    const out = capture();
    createLogger({ stream: out.stream }).child({ strategy: 'cached-poll', backend: 'heat-1' }).child({ jobId: 'j1' }).warn('poll failed');
    expect(out.json()[0]).to.include({ strategy: 'cached-poll', backend: 'heat-1', jobId: 'j1', message: 'poll failed' });
  });

  it('redacts secrets in keys, nested objects, arrays and message text', () => {
    const out = capture();
    const secret = 'gAAAAABsupersecrettoken123';
    createLogger({ stream: out.stream }).info(`calling with Authorization: Bearer ${secret}`, {
      password: 'hunter2',
      headers: { 'X-Auth-Token': secret, accept: 'json' },
      backends: [{ keystone: { password: 'p4ss', username: 'admin' } }],
      url: 'http://admin:p4ss@keystone:5000/v3',
      webhook: { secret: 'whsec_QUJDREVGR0g=' },
      note: 'signed with whsec_QUJDREVGR0g=',
      apiKey: 'k-123',
    });
    const text = out.lines.join('\n');
    for (const leaked of [secret, 'hunter2', 'p4ss', 'QUJDREVGR0g', 'k-123']) expect(text).to.not.contain(leaked);
    const line = out.json()[0]!;
    expect(line.password).to.equal(REDACTED);
    expect((line.headers as Record<string, string>).accept).to.equal('json');
    expect(((line.backends as { keystone: { username: string } }[])[0]!.keystone.username)).to.equal('admin');
    expect(line.message).to.contain(`Bearer ${REDACTED}`);
  });

  it('redacts errors and leaves harmless values alone', () => {
    expect(redact(new Error('token=abc123'))).to.deep.equal({ name: 'Error', message: `token=${REDACTED}` });
    expect(redact({ tokenCount: 3, hasPassword: false })).to.deep.equal({ tokenCount: 3, hasPassword: false });
    expect(redactText('nothing to hide')).to.equal('nothing to hide');
  });

  it('writes readable lines in pretty mode', () => {
    const out = capture();
    createLogger({ stream: out.stream, format: 'pretty' }).info('ready', { port: 8080 });
    expect(out.lines[0]).to.match(/\d\d:\d\d:\d\d\.\d{3} .*info.* ready \{"port":8080\}/);
  });

  it('respects the level', () => {
    const out = capture();
    const logger = createLogger({ stream: out.stream, level: 'warn' });
    logger.info('quiet');
    logger.warn('loud');
    expect(out.json().map((l) => l.message)).to.deep.equal(['loud']);
  });
});
