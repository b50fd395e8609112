/** The webhook sender (node:http on keep-alive agents) against real local receivers. */
import { expect } from 'chai';
import { gzipSync } from 'node:zlib';
import { startReceiver, verify, type Receiver } from '../../helpers/webhook-receiver.js';
import { SsrfGuard, systemResolver } from '../../../src/webhooks/ssrf-guard.js';
import { RESPONSE_SNIPPET_BYTES, WebhookSender } from '../../../src/webhooks/webhook-sender.js';
import { newWebhookSecret } from '../../../src/webhooks/webhook-signer.js';

describe('webhook sender', function () {
  const loopback = new SsrfGuard(['127.0.0.0/8', '::1/128'], systemResolver);
  const secret = newWebhookSecret();
  let sender: WebhookSender;
  let receiver: Receiver | undefined;
  const send = (url: string, timeoutMs = 5_000) => sender.send({ url, id: 'msg_1', body: '{"type":"t","data":{"a":"☃"}}', secrets: [secret], timeoutMs });

  beforeEach(() => (sender = new WebhookSender(() => loopback)));
  afterEach(async () => {
    sender.close();
    await receiver?.close();
    receiver = undefined;
  });

  it('signs per Standard Webhooks and reuses one keep-alive connection', async () => {
    receiver = await startReceiver((_r, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks'));
    const first = await send(`${receiver.url}/hook?x=1`);
    const second = await send(`${receiver.url}/hook?x=1`);
    for (const r of [first, second]) expect(r).to.include({ ok: true, status: 200, responseBody: 'thanks', error: null, refused: false });
    expect(receiver.received).to.have.length(2);
    expect(receiver.received[0]!.path).to.equal('/hook?x=1');
    expect(receiver.received[0]!.headers['content-type']).to.equal('application/json');
    expect(verify(secret, receiver.received[0]!).data).to.deep.equal({ a: '☃' });
    expect(receiver.connections).to.equal(1);
  });

  it('does not follow a redirect: a failure naming it', async () => {
    receiver = await startReceiver((r, res) => void (r.path === '/moved' ? res.writeHead(302, { location: '/next' }).end() : res.writeHead(204).end()));
    const r = await send(`${receiver.url}/moved`);
    expect(r).to.include({ ok: false, status: 302, error: 'redirect (302) not followed' });
    expect(receiver.received.map((x) => x.path)).to.deep.equal(['/moved']);
  });

  it('gives up on a receiver that never answers within the timeout', async () => {
    receiver = await startReceiver(() => undefined);
    const r = await send(receiver.url, 200);
    expect(r.ok).to.equal(false);
    expect(r.status).to.equal(null);
    expect(r.error).to.match(/^ETIMEDOUT: /);
  });

  it('keeps the first 4 KB of the answer, decoded, and stops reading a huge one', async () => {
    const text = 'é'.repeat(3_000);
    receiver = await startReceiver((r, res) => {
      if (r.path === '/gzip') res.writeHead(500, { 'content-encoding': 'gzip' }).end(gzipSync(text));
      else {
        // 1 MB, never read to the end.
        res.writeHead(200);
        const chunk = Buffer.alloc(16_384, 'a');
        for (let i = 0; i < 64; i++) res.write(chunk);
        res.end();
      }
    });
    const gz = await send(`${receiver.url}/gzip`);
    expect(gz).to.include({ ok: false, status: 500, error: 'HTTP 500' });
    expect(Buffer.byteLength(gz.responseBody!)).to.be.at.most(RESPONSE_SNIPPET_BYTES);
    expect(gz.responseBody!.startsWith('é'.repeat(2_000))).to.equal(true);
    const big = await send(`${receiver.url}/big`);
    expect(big).to.include({ ok: true, status: 200 });
    expect(big.responseBody).to.equal('a'.repeat(RESPONSE_SNIPPET_BYTES));
  });

  it('reads Retry-After of a 429 or 503', async () => {
    receiver = await startReceiver((_r, res) => void res.writeHead(429, { 'retry-after': '7' }).end());
    expect(await send(receiver.url)).to.include({ ok: false, status: 429, retryAfterMs: 7_000 });
  });

  it('refuses an IP literal or a name resolving to a refused network, sending nothing', async () => {
    receiver = await startReceiver();
    const strict = new WebhookSender(() => new SsrfGuard([], systemResolver));
    try {
      const literal = await strict.send({ url: receiver.url, id: 'msg_1', body: '{}', secrets: [secret], timeoutMs: 1_000 });
      expect(literal.refused).to.equal(true);
      const named = await strict.send({ url: `http://localhost:${receiver.port}/`, id: 'msg_1', body: '{}', secrets: [secret], timeoutMs: 1_000 });
      expect(named.refused, named.error ?? '').to.equal(true);
      expect(named.error).to.match(/^refused at connect time/);
    } finally {
      strict.close();
    }
    expect(receiver.received).to.have.length(0);
  });
});
