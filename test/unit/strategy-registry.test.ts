import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseConfig } from '../../src/config/load.js';
import { defineStrategy, optionsKey } from '../../src/strategy/define-strategy.js';
import { withOptionsTable } from '../../src/strategy/options-table.js';
import { STRATEGIES, STRATEGY_NAMES, strategyDefinition } from '../../src/strategy/registry.js';

describe('strategy registry', () => {
  it('names each strategy once', () => {
    expect(new Set(STRATEGY_NAMES).size).to.equal(STRATEGIES.length);
  });

  it('an unknown name fails with the list of known ones', () => {
    expect(() => strategyDefinition('cached-pol')).to.throw(`strategy.name 'cached-pol' is unknown; use one of ${STRATEGY_NAMES.join(', ')}`);
  });

  for (const definition of STRATEGIES) {
    describe(definition.name, () => {
      it('is accepted by the config, with its options under its own key and every default filled in', () => {
        const config = parseConfig({ strategy: { name: definition.name } });
        expect(config.strategy.name).to.equal(definition.name);
        expect(config.strategy[optionsKey(definition.name)]).to.deep.equal(definition.options.parse({}));
      });

      it('documents every option', () => {
        for (const [key, field] of Object.entries(definition.options.shape as Record<string, z.ZodType>)) {
          expect(field.description, `${definition.name}.${key}`).to.be.a('string').and.not.equal('');
        }
      });

      it('gives finite, positive bounds under its default options', () => {
        const options = definition.options.parse({});
        expect(definition.staleAfterMs(options)).to.be.greaterThan(0);
        if (definition.conformance.kind === 'within') {
          for (const bound of [definition.conformance.changeMs, definition.conformance.deletionMs, definition.conformance.recoveryMs]) {
            expect(Number.isFinite(bound(options)) && bound(options) >= 0).to.equal(true);
          }
        }
      });
    });
  }

  it('docs/strategies.md holds the options table generated from the definitions', () => {
    const doc = readFileSync('docs/strategies.md', 'utf8');
    expect(doc, 'the table is out of date: run `npm run docs:strategies`').to.equal(withOptionsTable(doc));
  });

  it('refuses a definition whose options lack a default', () => {
    expect(() =>
      defineStrategy({
        name: 'needs-input',
        summary: 'x',
        options: z.object({ intervalMs: z.number() }),
        jobs: {},
        reads: ['heat'],
        staleAfterMs: () => 1,
        conformance: { kind: 'on-read' },
        create: () => {
          throw new Error('not used');
        },
      }),
    ).to.throw(/every option needs a default/);
  });
});
