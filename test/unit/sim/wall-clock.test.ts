import { expect } from 'chai';
import { ScenarioWorld, type WorldNotice } from '../../../src/sim/scenario-world.js';
import { WallClockDriver, type WallClockTimers } from '../../../src/sim/wall-clock.js';

/** Timers on a clock that moves only when the test fires the next timer. */
class FakeTimers implements WallClockTimers {
  nowMs: number;
  armed: { atMs: number; run: () => void }[] = [];

  constructor(startMs: number) {
    this.nowMs = startMs;
  }

  now = (): number => this.nowMs;

  setTimeout = (run: () => void, delayMs: number) => {
    const timer = { atMs: this.nowMs + delayMs, run };
    this.armed.push(timer);
    return timer;
  };

  clearTimeout = (timer: unknown): void => {
    this.armed = this.armed.filter((t) => t !== timer);
  };

  /** Moves the clock to the earliest armed timer and runs it. */
  fireNext(): void {
    this.armed.sort((a, b) => a.atMs - b.atMs);
    const next = this.armed.shift();
    if (!next) throw new Error('no timer armed');
    this.nowMs = Math.max(this.nowMs, next.atMs);
    next.run();
  }
}

describe('sim wall-clock driver', () => {
  const startMs = Date.parse('2026-01-01T00:00:00.000Z');
  const world = (changeRate: number) => new ScenarioWorld({ seed: 'wall-clock', deployments: 10, instancesPerDeployment: 2, changeRate, startMs });

  it('applies every change at its own time, not on a later tick', () => {
    const w = world(5);
    const timers = new FakeTimers(startMs);
    const seen: { atMs: number; wallMs: number }[] = [];
    w.onNotice((notice: WorldNotice) => seen.push({ atMs: notice.type === 'nova-update' ? notice.atMs : notice.event.atMs, wallMs: timers.nowMs }));
    const driver = new WallClockDriver(w, timers);
    for (let i = 0; i < 200; i++) timers.fireNext();
    driver.stop();
    expect(seen.length).to.be.greaterThan(50);
    for (const { atMs, wallMs } of seen) expect(wallMs, `notice at ${atMs}`).to.equal(atMs);
    // Both kinds were exercised: random changes and their scheduled follow-ups.
    expect(new Set(w.truth().map((r) => r.kind))).to.include.members(['crash', 'reboot', 'reboot_complete']);
  });

  it('re-arms sooner when a change made from outside schedules an earlier follow-up', () => {
    const w = world(0.001);
    const timers = new FakeTimers(startMs);
    const driver = new WallClockDriver(w, timers);
    expect(timers.armed).to.have.length(1);
    const randomAt = timers.armed[0]!.atMs;
    w.applyChange('reboot');
    expect(timers.armed, 'the old timer is replaced').to.have.length(1);
    expect(timers.armed[0]!.atMs).to.equal(startMs + w.rebootWindowMs);
    expect(timers.armed[0]!.atMs).to.be.lessThan(randomAt);
    timers.fireNext();
    expect(w.truth().at(-1)!.kind).to.equal('reboot_complete');
    expect(timers.armed[0]!.atMs, 'then towards the random change again').to.be.greaterThan(timers.nowMs);
    expect(timers.armed[0]!.atMs).to.be.at.most(w.nextDueAtMs());
    driver.stop();
    expect(timers.armed).to.have.length(0);
  });
});
