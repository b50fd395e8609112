import { expect } from 'chai';
import nock from 'nock';
import { Readable } from 'node:stream';
import { DeltacloudClient } from '../../../src/backends/deltacloud-client.js';
import { DeltacloudJsonListParser } from '../../../src/backends/deltacloud-json-list.js';
import { UpstreamError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log/logger.js';
import { DC_URL, deltacloudConfig, fixtureText, useNock } from './backend-test-helpers.js';

function parseInChunks(json: string, size: number): unknown[] {
  const out: unknown[] = [];
  const parser = new DeltacloudJsonListParser((i) => out.push(i));
  for (let at = 0; at < json.length; at += size) parser.write(json.slice(at, at + size));
  parser.end();
  return out;
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('Deltacloud JSON list, stream-parsed', () => {
  useNock();

  it('yields exactly what JSON.parse of the whole document holds, whatever the chunk boundaries', () => {
    const text = fixtureText('deltacloud/instances.json');
    const expected = (JSON.parse(text) as { instances: unknown[] }).instances;
    expect(expected.length).to.be.greaterThan(0);
    for (const size of [text.length, 1, 7, 64]) expect(parseInChunks(text, size), `chunks of ${size}`).to.deep.equal(expected);
  });

  it('ignores braces and brackets inside strings, escaped quotes and other root keys', () => {
    const doc = JSON.stringify({ meta: { x: ['[', '{'] }, instances: [{ id: 'a"}]{', name: '\\' }, { id: 'b', nested: { deep: [1, { k: ']' }] } }], after: 'x' });
    expect(parseInChunks(doc, 3)).to.deep.equal(JSON.parse(doc).instances);
  });

  it('rejects a truncated list, a document without instances, a non-object element and trailing garbage', () => {
    const text = fixtureText('deltacloud/instances.json');
    expect(() => parseInChunks(text.slice(0, Math.floor(text.length / 2)), 50)).to.throw(/ended before/);
    expect(() => parseInChunks('{"images": []}', 4)).to.throw(/no "instances" array/);
    expect(() => parseInChunks('[]', 4)).to.throw(/not a JSON object/);
    expect(() => parseInChunks('{"instances": [1]}', 4)).to.throw(/instances\[0\] is not an object/);
    expect(() => parseInChunks('{"instances": [{"id": "a",}]}', 4)).to.throw(SyntaxError);
    expect(() => parseInChunks('{"instances": []} {', 4)).to.throw(/after the end/);
    expect(() => parseInChunks('{"instances": [}', 4)).to.throw(/unbalanced/);
  });

  it('the client maps the streamed JSON list like the buffered XML one', async () => {
    nock(DC_URL).get('/api/instances').reply(200, fixtureText('deltacloud/instances.json'), { 'content-type': 'application/json' });
    const client = new DeltacloudClient(deltacloudConfig({ format: 'json' }), { logger: silentLogger(), retryBaseDelayMs: 1 });
    const list = await client.listInstances();
    expect(list.length).to.equal((JSON.parse(fixtureText('deltacloud/instances.json')) as { instances: unknown[] }).instances.length);
    for (const one of list) expect(one.backend).to.deep.equal({ id: 'dc-ec2', kind: 'deltacloud', status: one.backend.status });
  });

  it('a malformed or truncated JSON list is parse, a wrong shape is schema, an HTML page is content_type', async () => {
    const client = new DeltacloudClient(deltacloudConfig({ format: 'json', retries: 0 }), { logger: silentLogger(), retryBaseDelayMs: 1 });
    nock(DC_URL).get('/api/instances').reply(200, '{"instances": [{"id": "a"', { 'content-type': 'application/json' });
    expect(await failure(client.listInstances())).to.be.instanceOf(UpstreamError).and.include({ reason: 'parse' });
    nock(DC_URL).get('/api/instances').reply(200, '{"instances": [{"id": 5}]}', { 'content-type': 'application/json' });
    const schema = await failure(client.listInstances());
    expect(schema).to.include({ reason: 'schema' });
    expect((schema as Error).message).to.match(/instances\[0\]: id/);
    nock(DC_URL).get('/api/instances').reply(200, '<html></html>', { 'content-type': 'text/html' });
    expect(await failure(client.listInstances())).to.include({ reason: 'content_type' });
  });

  it('a list larger than maxResponseBytes fails with too_large naming the key; multi-byte text split across chunks survives', async () => {
    const many = JSON.stringify({ instances: Array.from({ length: 2_000 }, (_, n) => ({ id: `i-${n}`, name: 'x', state: 'RUNNING' })) });
    nock(DC_URL).get('/api/instances').reply(200, many, { 'content-type': 'application/json' });
    const small = new DeltacloudClient(deltacloudConfig({ format: 'json', maxResponseBytes: 65_536 }), { logger: silentLogger(), retryBaseDelayMs: 1 });
    const err = await failure(small.listInstances());
    expect(err).to.include({ reason: 'too_large' });
    expect((err as Error).message).to.match(/raise backends\[\]\.maxResponseBytes of 'dc-ec2'/);

    const bytes = Buffer.from(JSON.stringify({ instances: [{ id: 'i-ü', name: 'été-☃', state: 'RUNNING' }] }), 'utf8');
    nock(DC_URL)
      .get('/api/instances')
      .reply(200, () => Readable.from([...bytes].map((b) => Buffer.from([b]))), { 'content-type': 'application/json' });
    const client = new DeltacloudClient(deltacloudConfig({ format: 'json' }), { logger: silentLogger(), retryBaseDelayMs: 1 });
    const [one] = await client.listInstances();
    expect(one).to.deep.include({ id: 'i-ü', name: 'été-☃' });
  });
});
