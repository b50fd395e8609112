import { expect } from 'chai';
import { retryDelayMs } from '../../../src/webhooks/attempt-outcome.js';
import { parseRetryAfter } from '../../../src/webhooks/webhook-sender.js';
import { eventMatches } from '../../../src/webhooks/webhook-schemas.js';

describe('retry schedule', () => {
  const schedule = [0, 5_000, 300_000];
  it('takes the delay of the next attempt, ± jitter', () => {
    expect(retryDelayMs(schedule, 1, 0.2, () => 0.5)).to.equal(5_000);
    expect(retryDelayMs(schedule, 1, 0.2, () => 0)).to.equal(4_000);
    expect(retryDelayMs(schedule, 1, 0.2, () => 1)).to.equal(6_000);
    expect(retryDelayMs(schedule, 2, 0, () => 0.3)).to.equal(300_000);
  });
  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('120', 0)).to.equal(120_000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).to.equal(6_000);
    expect(parseRetryAfter('soon', 0)).to.equal(null);
    expect(parseRetryAfter(undefined, 0)).to.equal(null);
  });
  it('matches event filters exactly or by prefix', () => {
    expect(eventMatches(null, 'instance.created')).to.equal(true);
    expect(eventMatches(['instance.*'], 'instance.state_changed')).to.equal(true);
    expect(eventMatches(['instance.*'], 'deployment.created')).to.equal(false);
    expect(eventMatches(['deployment.created'], 'deployment.created')).to.equal(true);
  });
});
