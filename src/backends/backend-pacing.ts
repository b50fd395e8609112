/**
 * How one backend is paced: a FIFO semaphore bounding requests in flight and the full-jitter
 * backoff between retries. Shared by the buffered (backend-http.ts) and streamed
 * (backend-stream.ts) requests.
 */

/**
 * Full-jitter exponential backoff: a uniformly random delay in
 * [0, min(maxMs, baseMs · 2^(retry-1))]. Full jitter spreads retries of many replicas so
 * a recovering backend is not hit by synchronized waves.
 */
export function backoffDelayMs(retry: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/** A small FIFO semaphore. */
export class Semaphore {
  private active = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly limit: number) {}

  get inFlight(): number {
    return this.active;
  }

  async acquire(): Promise<() => void> {
    if (this.active >= this.limit) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    } else {
      this.active += 1;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      // Hand the slot straight to the next waiter so `active` never exceeds the limit.
      if (next) next();
      else this.active -= 1;
    };
  }
}
