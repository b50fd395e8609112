import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parsePush, parseStackIdentity } from '../../src/push/push-parser.js';
import { InputError } from '../../src/errors.js';

const fixture = (name: string) => JSON.parse(readFileSync(`test/fixtures/push/${name}`, 'utf8')) as unknown;
const STACK = '2f5e3a0c-1c5d-4c7a-8f4e-6b9d1e2a3c4d';
const SERVER = '0d3b4b1e-8a0d-4f41-a3f5-4c1f1a7d2e11';

describe('push parser', () => {
  it('reads a Zaqar-delivered Heat event-sink message', () => {
    expect(parsePush('heat-1', fixture('zaqar-heat-event.json'))).to.deep.equal([
      { backendId: 'heat-1', event: 'os.heat.event', stackId: STACK, instanceId: SERVER },
    ]);
  });

  it('reads the bare event-sink body and lists of messages', () => {
    const msg = fixture('zaqar-heat-event.json') as { body: unknown };
    expect(parsePush('h', msg.body)).to.have.length(1);
    expect(parsePush('h', [msg, msg])).to.have.length(2);
  });

  it('rejects anything else with a 400 naming the body', () => {
    for (const bad of [null, 42, 'text', {}, { body: { type: 'os.heat.event' } }, { event_type: 'compute.instance.update', payload: {} }]) {
      let err: unknown;
      try {
        parsePush('h', bad);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(bad)).to.be.instanceOf(InputError);
      expect((err as InputError).errors[0]!.path).to.match(/^body/);
    }
  });

  it('refuses nested lists without recursing into them', () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => parsePush('h', deep)).to.throw(InputError);
    expect(() => parsePush('h', [[fixture('zaqar-heat-event.json')]])).to.throw(InputError, /not a recognised notification/);
  });

  it('parses stack identities in their three forms', () => {
    expect(parseStackIdentity(`arn:openstack:heat::t1:stacks/shop/${STACK}`)).to.deep.equal({ name: 'shop', id: STACK });
    expect(parseStackIdentity(`shop/${STACK}`)).to.deep.equal({ name: 'shop', id: STACK });
    expect(parseStackIdentity(STACK)).to.deep.equal({ id: STACK });
  });
});
