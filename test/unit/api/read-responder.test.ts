import { expect } from 'chai';
import { renderDocsPage } from '../../../src/api/docs-page.js';
import { eventJson } from '../../../src/api/event-streams.js';
import { ifNoneMatchHits } from '../../../src/api/read-responder.js';

describe('api helpers', () => {
  describe('ifNoneMatchHits', () => {
    it('matches weakly, in lists, and *', () => {
      expect(ifNoneMatchHits('W/"i3"', 'W/"i3"')).to.equal(true);
      expect(ifNoneMatchHits('"i3"', 'W/"i3"')).to.equal(true);
      expect(ifNoneMatchHits('"a", W/"i3" ,"b"', 'W/"i3"')).to.equal(true);
      expect(ifNoneMatchHits('*', 'W/"i3"')).to.equal(true);
    });
    it('does not match other tags, prefixes or nothing', () => {
      expect(ifNoneMatchHits(undefined, 'W/"i3"')).to.equal(false);
      expect(ifNoneMatchHits('W/"i31"', 'W/"i3"')).to.equal(false);
      expect(ifNoneMatchHits('W/"i"', 'W/"i3"')).to.equal(false);
      expect(ifNoneMatchHits('', 'W/"i3"')).to.equal(false);
    });
  });

  it('eventJson appends the cursor to the stored event JSON without reparsing', () => {
    const json = '{"id":"evt_1","type":"instance.created","occurredAt":"2026-11-25T10:00:00.000Z","data":{"current":{"a":"}"},"previous":null}}';
    const out = eventJson({ cursor: '1-0', json, type: 'instance.created', subject: 'a', deploymentId: 'd' });
    expect(JSON.parse(out)).to.deep.equal({ ...JSON.parse(json), cursor: '1-0' });
  });

  it('renderDocsPage escapes everything it shows', () => {
    const html = renderDocsPage({
      openapi: '3.1.0',
      info: { title: '<b>t</b>', version: '1' },
      paths: { '/x/{id}': { get: { summary: '<script>alert(1)</script>', tags: ['t'], parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'ok' } } } } },
    });
    expect(html).to.not.contain('<script>');
    expect(html).to.contain('&lt;script&gt;');
    expect(html).to.contain('<code>/x/{id}</code>');
  });
});
