import { expect } from 'chai';
import { ReplyError as IoredisReplyError } from 'ioredis';
import { asRedisUnavailable, isRedisUnavailable, redactRedisUrl } from '../../src/redis/redis-errors.js';

/** ioredis's own reply error class (from redis-errors), as Redis error replies arrive. */
const ReplyError = IoredisReplyError as new (message: string) => Error;

describe('redis-errors: the one place that recognises a Redis outage', () => {
  it('recognises what ioredis and Redis say while Redis is away or not serving', () => {
    const econnrefused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    for (const err of [
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
      new Error('Connection is closed.'),
      new Error('Command timed out'),
      Object.assign(new Error('Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option for details.'), { name: 'MaxRetriesPerRequestError' }),
      econnrefused,
      new Error('wrapped', { cause: econnrefused }),
      new ReplyError('LOADING Redis is loading the dataset in memory'),
      new ReplyError('READONLY You can\'t write against a read only replica.'),
      new ReplyError('CLUSTERDOWN The cluster is down'),
    ]) {
      expect(isRedisUnavailable(err), err.message).to.equal(true);
      expect(asRedisUnavailable(err)?.status).to.equal(503);
      expect(asRedisUnavailable(err)?.retryAfterSeconds).to.be.greaterThan(0);
    }
  });

  it('leaves bugs and wrong commands alone (they stay 500s)', () => {
    for (const err of [new Error('boom'), new TypeError('x is undefined'), new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value'), 'a string']) {
      expect(isRedisUnavailable(err)).to.equal(false);
      expect(asRedisUnavailable(err)).to.equal(undefined);
    }
  });

  it('never shows a password in a Redis URL', () => {
    expect(redactRedisUrl('redis://:s3cret@10.0.0.5:6379/0')).to.equal('redis://:***@10.0.0.5:6379/0');
    expect(redactRedisUrl('rediss://app:s3cret@redis.example.com:6380')).to.equal('rediss://app:***@redis.example.com:6380');
    expect(redactRedisUrl('redis://127.0.0.1:6379')).to.equal('redis://127.0.0.1:6379');
  });
});
