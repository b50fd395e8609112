/**
 * How the Conductor API reaches the strategies in force. The strategy runtime implements it:
 * a read of something one backend owns goes through that backend's strategy; a read across
 * backends through each strategy that runs for some of them. Tests pass a fixed fake.
 */
import type { ReadTarget, Strategy } from '../strategy/strategy.js';

/** One strategy a read goes through, and the backends it answers for there ([] = all it runs for). */
export interface ReadPart {
  strategy: Strategy;
  backendIds: string[];
}

export interface ActiveStrategy {
  /** The default strategy right now. */
  current(): Strategy;
  /** The strategies a read goes through. Called once per request, so a switch applies at once. */
  forRead(target: ReadTarget): Promise<ReadPart[]>;
}

/** An {@link ActiveStrategy} that always answers `strategy` (tests, single-strategy wiring). */
export function fixedStrategy(strategy: Strategy): ActiveStrategy {
  return { current: () => strategy, forRead: async () => [{ strategy, backendIds: [] }] };
}
