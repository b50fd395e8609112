/**
 * The script registry defines on a connection only the scripts asked for, each once: ioredis
 * copies every command defined on a connection onto each pipeline it makes, so a connection
 * carrying all of them makes every auto-pipelined write dearer.
 */
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { withScripts } from '../../../src/store/script-registry.js';

/** The scripts defined on `redis` (ioredis keeps them by name). */
const definedOn = (redis: Redis) => Object.keys((redis as unknown as { scriptsSet: Record<string, unknown> }).scriptsSet).sort();

describe('withScripts', () => {
  let redis: Redis;
  beforeEach(() => {
    // Never connected: defining commands is local to the client.
    redis = new Redis({ lazyConnect: true });
  });
  afterEach(() => redis.disconnect());

  it('defines only the scripts named, and their pipelines carry only those', () => {
    withScripts(redis, ['hgwAppend', 'hgwLease']);
    expect(definedOn(redis)).to.deep.equal(['hgwAppend', 'hgwLease']);
    const pipeline = redis.pipeline() as unknown as Record<string, unknown>;
    expect(pipeline.hgwAppend).to.be.a('function');
    expect(pipeline.hgwObserve).to.equal(undefined);
  });

  it('adds what another store names on the same connection, defining nothing twice', () => {
    withScripts(redis, ['hgwAppend']);
    const append = (redis as unknown as Record<string, unknown>).hgwAppend;
    withScripts(redis, ['hgwAppend', 'hgwObserve']);
    expect(definedOn(redis)).to.deep.equal(['hgwAppend', 'hgwObserve']);
    expect((redis as unknown as Record<string, unknown>).hgwAppend).to.equal(append);
  });

});
