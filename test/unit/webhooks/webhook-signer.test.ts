import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';
import { newWebhookSecret, signWebhook, webhookHeaders } from '../../../src/webhooks/webhook-signer.js';

describe('webhook signer', () => {
  it('matches the published Standard Webhooks test vector', () => {
    // Source: standard-webhooks/standard-webhooks, libraries/javascript/src/webhook.test.ts,
    // test "sign function works" (the reference library's signing vector).
    const signature = signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    expect(signature).to.equal('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('makes whsec_ secrets of 32 random bytes', () => {
    const a = newWebhookSecret();
    expect(a).to.match(/^whsec_/);
    expect(Buffer.from(a.slice(6), 'base64')).to.have.length(32);
    expect(newWebhookSecret()).to.not.equal(a);
  });

  it('signs with every secret; the library verifies with either', () => {
    const [oldSecret, newSecret] = [newWebhookSecret(), newWebhookSecret()];
    const body = '{"type":"instance.created","timestamp":"2026-11-25T10:00:00.000Z","data":{}}';
    const headers = webhookHeaders([newSecret, oldSecret], 'evt_1', Math.floor(Date.now() / 1_000), body);
    expect(headers['webhook-signature'].split(' ')).to.have.length(2);
    for (const secret of [oldSecret, newSecret]) expect(() => new Webhook(secret).verify(body, headers)).to.not.throw();
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).to.throw();
  });
});
