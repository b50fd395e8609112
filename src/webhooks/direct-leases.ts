/**
 * The leases in Redis of this process's direct attempts (see DeliveryWorker.attemptDirect),
 * renewed every half lease while the attempts run, like a BullMQ job's lock.
 */
import type { Logger } from '../log/logger.js';
import type { DeliveryStore } from '../store/delivery-store.js';

type Held = { endpointId: string; deliveryId: string; owner: string };

export class DirectLeases {
  /** Attempts in flight, by job id. */
  private readonly held = new Map<string, Held>();
  private renewing: NodeJS.Timeout | undefined;

  constructor(
    private readonly deliveries: DeliveryStore,
    readonly leaseMs: number,
    private readonly log: Logger,
  ) {}

  /** Runs `attempt` while renewing the lease `lease` holds (under job id `jobId`). */
  async hold<T>(jobId: string, lease: Held, attempt: () => Promise<T>): Promise<T> {
    this.held.set(jobId, lease);
    this.renew();
    try {
      return await attempt();
    } finally {
      this.held.delete(jobId);
    }
  }

  stop(): void {
    clearInterval(this.renewing);
    this.renewing = undefined;
  }

  private renew(): void {
    if (this.renewing || this.held.size === 0) return;
    this.renewing = setInterval(() => {
      if (this.held.size === 0) return this.stop();
      this.deliveries.renewLeases([...this.held.values()], this.leaseMs).catch((err: Error) => {
        // A lapsed lease only lets a job repeat the attempt (at least once), never lose it.
        this.log.warn('could not renew direct delivery leases', { error: err.message });
      });
    }, this.leaseMs / 2);
    this.renewing.unref();
  }
}
