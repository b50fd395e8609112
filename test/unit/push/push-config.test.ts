import { expect } from 'chai';
import { ConfigError, parseConfig } from '../../../src/config/load.js';

const heat = (amqp: Record<string, unknown>) => ({
  backends: [{ id: 'heat-1', kind: 'heat', endpoint: 'http://heat:8004/v1/t', token: 't', push: { amqp } }],
});

function rejects(doc: unknown): string {
  try {
    parseConfig(doc, 'test.yaml', {});
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the config to be rejected');
}

describe('backends[].push.amqp', () => {
  it('fills the documented defaults', () => {
    const cfg = parseConfig(heat({ url: 'amqp://u:p@rabbit:5672/', queue: 'heat-gateway.heat-1' }), 'test.yaml', {});
    expect(cfg.backends[0]!.push!.amqp).to.deep.equal({
      url: 'amqp://u:p@rabbit:5672/',
      queue: 'heat-gateway.heat-1',
      exchanges: ['heat', 'nova'],
      topics: ['notifications.info', 'notifications.error'],
      prefetch: 100,
    });
  });

  it('refuses a shared notifications queue, naming the key and the fix', () => {
    const message = rejects(heat({ url: 'amqp://rabbit/', queue: 'notifications.info' }));
    expect(message).to.include('backends.0.push.amqp.queue');
    expect(message).to.include("must be the gateway's own queue");
  });

  it('refuses a URL that is not amqp(s)://, and unknown keys', () => {
    expect(rejects(heat({ url: 'http://rabbit/', queue: 'q' }))).to.include('must be an amqp:// or amqps:// URL');
    expect(rejects(heat({ url: 'amqp://rabbit/', queue: 'q', prefetsh: 5 }))).to.include('prefetsh');
  });
});
