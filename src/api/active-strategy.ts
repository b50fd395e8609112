/**
 * How the Conductor API reaches the strategy in force. The strategy runtime implements it
 * (and swaps what `current()` returns on a switch); tests pass a fixed fake.
 */
import type { Strategy } from '../strategy/strategy.js';

export interface ActiveStrategy {
  /** The strategy serving reads right now. Called once per request, so a switch applies at once. */
  current(): Strategy;
}

/** An {@link ActiveStrategy} that always answers `strategy` (tests, single-strategy wiring). */
export function fixedStrategy(strategy: Strategy): ActiveStrategy {
  return { current: () => strategy };
}
