import { expect } from 'chai';
import { STRATEGIES, createStrategy } from '../../strategies/index.js';
import { STRATEGY_NAMES } from '../../src/config/schema.js';
import type { StrategyContext } from '../../src/strategy/strategy.js';

describe('strategy registry', () => {
  it('implements exactly the strategies the config accepts', () => {
    expect(Object.keys(STRATEGIES).sort()).to.deep.equal([...STRATEGY_NAMES].sort());
  });

  it('an unknown name fails with the list of known ones', () => {
    expect(() => createStrategy('cached-pol', {} as StrategyContext)).to.throw(
      "strategy.name 'cached-pol' is unknown; use one of on-demand, cached-poll, webhook, deltacloud-poll",
    );
  });
});
