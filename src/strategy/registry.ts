/**
 * Lookups over the strategy definitions of `strategies/index.ts`. An unknown name fails with
 * the list of known ones.
 */
import { STRATEGIES } from '../../strategies/index.js';
import type { AnyStrategyDefinition } from './define-strategy.js';

/** Every strategy name, in registry order. */
export const STRATEGY_NAMES: readonly string[] = STRATEGIES.map((d) => d.name);

export function findStrategy(name: string): AnyStrategyDefinition | undefined {
  return STRATEGIES.find((d) => d.name === name);
}

/** The definition of `name`; throws with the list of known ones. */
export function strategyDefinition(name: string): AnyStrategyDefinition {
  const definition = findStrategy(name);
  if (!definition) throw new Error(`strategy.name '${name}' is unknown; use one of ${STRATEGY_NAMES.join(', ')}`);
  return definition;
}

export { STRATEGIES };
