import { expect } from 'chai';
import { parseConfig } from '../../src/config/load.js';
import { describeTopology, topologyOf } from '../../src/redis/redis-topology.js';
import { isRedisUnavailable } from '../../src/redis/redis-errors.js';

/** An error as ioredis raises it: server replies are ReplyErrors, socket failures carry their code. */
const redisError = (message: string) =>
  Object.assign(new Error(message), { name: /^[A-Z]+ /.test(message) ? 'ReplyError' : 'Error', code: /\bE[A-Z]+\b/.exec(message)?.[0] });

describe('redis topology', () => {
  it('is a single node unless sentinels or cluster are set; REDIS_URL then only sets the ignored url', () => {
    const env = { REDIS_URL: 'redis://10.9.9.9:6379' };
    expect(topologyOf(parseConfig({}, 'x', env).redis)).to.deep.equal({ kind: 'single', url: 'redis://10.9.9.9:6379' });
    const sentinel = topologyOf(parseConfig({ redis: { sentinels: ['redis://:pw@10.0.0.5:26379', 'redis://10.0.0.6'], sentinelName: 'mymaster', password: 'p' } }, 'x', env).redis);
    expect(sentinel.kind).to.equal('sentinel');
    expect(describeTopology(sentinel)).to.equal("Sentinel primary 'mymaster' via 10.0.0.5:26379, 10.0.0.6:6379");
    const cluster = topologyOf(parseConfig({ redis: { cluster: ['redis://u:secret@10.0.0.7:7000'] } }, 'x', env).redis);
    expect(describeTopology(cluster)).to.equal('Cluster seeded by 10.0.0.7:7000').and.not.include('secret');
  });

  it('calls connection and failover errors unavailable, and nothing else', () => {
    for (const message of ['Connection is closed.', 'READONLY You can\'t write against a read only replica.', 'CLUSTERDOWN The cluster is down', 'connect ECONNREFUSED 127.0.0.1:6379', 'All sentinels are unreachable. Retrying from scratch after 100ms.']) {
      expect(isRedisUnavailable(redisError(message)), message).to.equal(true);
    }
    for (const message of ['ERR wrong number of arguments', 'WRONGTYPE Operation against a key holding the wrong kind of value', 'boom']) {
      expect(isRedisUnavailable(redisError(message)), message).to.equal(false);
    }
    expect(isRedisUnavailable('Connection is closed.')).to.equal(false);
  });
});
