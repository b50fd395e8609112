/**
 * Drives a real-clock world: a timer armed for the world's next due change, so each change
 * is applied (and its notices pushed and published) at its own time. A fixed tick would
 * hold every change back until the next tick — on average half a tick of latency that no
 * gateway could remove, and that a benchmark would charge to the gateway.
 */
import type { ScenarioWorld } from './scenario-world.js';

/** setTimeout's limit is ~24.8 days; wake at least this often (re-arming is cheap). */
const MAX_SLEEP_MS = 60_000;

/** The clock and timers the driver uses (tests pass their own). */
export interface WallClockTimers {
  now(): number;
  /** Returns a handle for `clearTimeout`; Node's own timer is unref'd (it never keeps a process alive). */
  setTimeout(run: () => void, delayMs: number): unknown;
  clearTimeout(timer: unknown): void;
}

const NODE_TIMERS: WallClockTimers = {
  now: () => Date.now(),
  setTimeout: (run, delayMs) => setTimeout(run, delayMs).unref(),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

export class WallClockDriver {
  private timer: unknown;
  /** Wall time the armed timer wakes at; Infinity when none is armed. */
  private wakeAtMs = Number.POSITIVE_INFINITY;
  private stopped = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly world: ScenarioWorld,
    private readonly timers: WallClockTimers = NODE_TIMERS,
  ) {
    this.unsubscribe = world.onReschedule(() => this.arm());
    this.run();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly run = (): void => {
    this.timer = undefined;
    this.wakeAtMs = Number.POSITIVE_INFINITY;
    this.world.runUntil(this.timers.now());
    this.arm();
  };

  /** Arms the timer for the next due change, unless it already wakes no later. */
  private arm(): void {
    if (this.stopped) return;
    const dueAtMs = this.world.nextDueAtMs();
    if (dueAtMs === Number.POSITIVE_INFINITY || dueAtMs >= this.wakeAtMs) return;
    // A timer may fire a millisecond early by the wall clock: run() then re-arms for the rest.
    const now = this.timers.now();
    const delayMs = Math.max(0, Math.min(dueAtMs - now, MAX_SLEEP_MS));
    this.timers.clearTimeout(this.timer);
    this.wakeAtMs = now + delayMs;
    this.timer = this.timers.setTimeout(this.run, delayMs);
  }
}
