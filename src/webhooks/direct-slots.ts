/**
 * The fan-out's direct attempts in flight (see FeedFanout): the slots they take, bounded by
 * the direct concurrency, and the feed entries whose acknowledgement waits for them.
 */
export class DirectSlots {
  /** Attempts in flight, by job id (a re-read entry joins the attempt under way). */
  private readonly sending = new Map<string, Promise<void>>();
  /** Acknowledgements waiting for attempts. */
  private readonly acks = new Set<Promise<void>>();
  /** Feed entries whose acknowledgement waits for attempts. */
  private readonly unacked = new Set<string>();
  /** Slots given to batches whose records are being written (their attempts not started yet). */
  private reserved = 0;
  private readonly recording = new Set<Promise<unknown>>();

  /** Slots taken. */
  taken(): number {
    return this.sending.size + this.reserved;
  }

  /** The attempt under way for job `key`, if any. */
  under(key: string): Promise<void> | undefined {
    return this.sending.get(key);
  }

  /** Is the acknowledgement of feed entry `cursor` waiting for attempts here? */
  holds(cursor: string): boolean {
    return this.unacked.has(cursor);
  }

  /** Holds `n` slots while `recording` runs (the batch's attempts take them over after). */
  async reserve<T>(n: number, recording: () => Promise<T>): Promise<T> {
    this.reserved += n;
    const recorded = recording();
    this.recording.add(recorded);
    try {
      return await recorded;
    } finally {
      this.reserved -= n;
      this.recording.delete(recorded);
    }
  }

  /** Takes a slot for job `key` until `run` settles. */
  track(key: string, run: Promise<void>): Promise<void> {
    this.sending.set(key, run);
    const done = () => {
      this.sending.delete(key);
    };
    run.then(done, done);
    return run;
  }

  /** Resolves when an attempt or a batch's recording settles, or at `deadline` (epoch ms). */
  async freed(deadline: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const waits = [...this.sending.values(), ...this.recording];
    await Promise.race([...waits, new Promise<void>((resolve) => (timer = setTimeout(resolve, deadline - Date.now())))]).catch(() => undefined);
    clearTimeout(timer);
  }

  /**
   * Runs `ack` for `cursors` once every attempt settled or was handed to the queue; until
   * then {@link holds} says so. Not awaited by the fan-out: {@link drain} waits for them all.
   */
  ackAfter(cursors: string[], attempts: Promise<void>[], ack: () => Promise<void>, onFailed: (err: Error) => void): void {
    for (const cursor of cursors) this.unacked.add(cursor);
    const acked = Promise.all(attempts)
      .then(ack)
      .catch((err: Error) => onFailed(err));
    this.acks.add(acked);
    void acked.then(() => {
      this.acks.delete(acked);
      for (const cursor of cursors) this.unacked.delete(cursor);
    });
  }

  /** Waits for every acknowledgement under way. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.acks]);
  }
}
