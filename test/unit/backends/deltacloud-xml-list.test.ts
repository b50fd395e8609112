import { expect } from 'chai';
import nock from 'nock';
import { Readable } from 'node:stream';
import { DeltacloudClient } from '../../../src/backends/deltacloud-client.js';
import { DeltacloudXmlListParser, type XmlListedInstance } from '../../../src/backends/deltacloud-xml-list.js';
import { UpstreamError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log/logger.js';
import { DC_URL, deltacloudConfig, fixtureText, useNock } from './backend-test-helpers.js';

function parseInChunks(xml: string, size: number): XmlListedInstance[] {
  const out: XmlListedInstance[] = [];
  const parser = new DeltacloudXmlListParser((i) => out.push(i));
  for (let at = 0; at < xml.length; at += size) parser.write(xml.slice(at, at + size));
  parser.end();
  return out;
}

describe('Deltacloud XML list, stream-parsed', () => {
  useNock();

  it('yields the same instances whatever the chunk boundaries', () => {
    const xml = fixtureText('deltacloud/instances.xml');
    const whole = parseInChunks(xml, xml.length);
    expect(whole.length).to.be.greaterThan(0);
    expect(whole[0]).to.include({ id: 'i-1fbc627e', state: 'RUNNING', image_id: 'ami-f51aff9c', realm_id: 'us-east-1c' });
    for (const size of [1, 7, 64]) expect(parseInChunks(xml, size), `chunks of ${size}`).to.deep.equal(whole);
  });

  it('rejects a truncated list, a foreign root and broken markup', () => {
    const xml = fixtureText('deltacloud/instances.xml');
    expect(() => parseInChunks(xml.slice(0, Math.floor(xml.length / 2)), 100)).to.throw();
    expect(() => parseInChunks('<?xml version="1.0"?><images></images>', 10)).to.throw(/not <instances>/);
    expect(() => parseInChunks('<instances><instance id="a"></instances>', 10)).to.throw();
  });

  it('a list larger than maxResponseBytes fails with too_large naming the key, once', async () => {
    const many = `<?xml version="1.0" encoding="UTF-8"?><instances>${'<instance id="i-1"><name>x</name><state>RUNNING</state></instance>'.repeat(2_000)}</instances>`;
    const scope = nock(DC_URL).get('/api/instances').reply(200, many, { 'content-type': 'application/xml' });
    const client = new DeltacloudClient(deltacloudConfig({ maxResponseBytes: 65_536 }), { logger: silentLogger(), retryBaseDelayMs: 1 });
    const err = await client.listInstances().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(UpstreamError);
    expect(err).to.include({ reason: 'too_large' });
    expect((err as Error).message).to.match(/maxResponseBytes \(65536 bytes\).*raise backends\[\]\.maxResponseBytes of 'dc-ec2'/);
    expect(scope.isDone()).to.equal(true);
  });

  it('multi-byte characters split across chunks survive', async () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?><instances><instance id="i-ü"><name>été-☃</name><state>RUNNING</state></instance></instances>`;
    const bytes = Buffer.from(xml, 'utf8');
    nock(DC_URL)
      .get('/api/instances')
      .reply(200, () => Readable.from([...bytes].map((b) => Buffer.from([b]))), { 'content-type': 'application/xml' });
    const client = new DeltacloudClient(deltacloudConfig(), { logger: silentLogger(), retryBaseDelayMs: 1 });
    const [one] = await client.listInstances();
    expect(one).to.deep.include({ id: 'i-ü', name: 'été-☃' });
  });
});
