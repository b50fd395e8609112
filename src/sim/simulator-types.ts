/** The simulator's options and the handles a started simulator offers (see simulator.ts). */
import type { Logger } from '../log/logger.js';
import type { Faults } from './fault-injector.js';
import type { StatsSnapshot } from './request-stats.js';
import type { ChangeKind, NovaStatus, TruthRecord, WorldOptions } from './scenario-world.js';
import type { SimContext, SimCredentials } from './sim-context.js';
import type { PushOptions } from './push-dispatcher.js';
import type { NotificationPublisherOptions } from './amqp-publisher.js';
import type { ScenarioWorld } from './scenario-world.js';

export interface SimulatorOptions {
  /** @defaultValue 0 (ephemeral) */
  port?: number;
  /** @defaultValue '127.0.0.1' */
  host?: string;
  /** @defaultValue 1 */
  seed?: number | string;
  /** Number of Heat stacks at start. @defaultValue 10 */
  deployments?: number;
  /** @defaultValue 3 */
  instancesPerDeployment?: number;
  /** Random changes per second. @defaultValue 0 */
  changeRate?: number;
  /**
   * `manual`: world time moves only through `handle.advance(ms)` (tests);
   * `real`: the wall clock; each change is applied at its own time (demos, benchmarks).
   * @defaultValue 'real'
   */
  clock?: 'manual' | 'real';
  /** World time at start in manual mode. @defaultValue '2025-01-01T00:00:00.000Z' */
  startTime?: string;
  launchDurationMs?: number;
  rebootWindowMs?: number;
  deleteDurationMs?: number;
  maxEventsPerStack?: number;
  eventPurgeBatchSize?: number;
  changeWeights?: WorldOptions['changeWeights'];
  deltacloudShutoffState?: WorldOptions['deltacloudShutoffState'];
  credentials?: Partial<SimCredentials>;
  /** @defaultValue 3_600_000 */
  tokenTtlMs?: number;
  faults?: Faults;
  push?: PushOptions;
  /** Publish every change to a RabbitMQ as oslo notifications and/or post Aodh alarm bodies. */
  notifications?: NotificationPublisherOptions;
  eventMarkerNotFound?: SimContext['eventMarkerNotFound'];
  /** @defaultValue 'RegionOne' */
  region?: string;
  logger?: Logger;
}

export interface WorldSnapshot {
  now: string;
  deployments: { id: string; name: string; stackStatus: string; statusReason: string; instanceIds: string[] }[];
  instances: {
    id: string;
    deploymentId: string;
    name: string;
    resourceName: string;
    novaStatus: NovaStatus;
    resourceStatus: string;
    deltacloudState: string | null;
    addresses: { public: string[]; private: string[] };
  }[];
}

export interface SimulatorControl {
  /** World time (ms since epoch). */
  now(): number;
  /** Moves virtual time forward, applying due transitions and random changes. */
  advance(ms: number): TruthRecord[];
  /** Applies one change now (target: stack id for delete, server id for crash/reboot). */
  applyChange(kind: ChangeKind, target?: string, options?: { crashTo?: 'ERROR' | 'SHUTOFF' }): TruthRecord[];
  truth(since?: number | string): TruthRecord[];
  world(): WorldSnapshot;
  stats(): StatsSnapshot;
  resetStats(): void;
  setFaults(faults: Faults): void;
  clearFaults(): void;
  faults(): Faults;
  setChangeRate(rate: number): void;
  /** Resolves once every push delivery started so far has settled. */
  pushIdle(): Promise<void>;
  /** Resolves once every AMQP notification so far is confirmed and every Aodh post settled. */
  notificationsIdle(): Promise<void>;
  /** Notifications confirmed by the broker, alarm bodies posted, and failures of either. */
  notificationCounts(): { published: number; posted: number; failed: number };
  /** The underlying world, for tests that need raw access. */
  readonly scenario: ScenarioWorld;
}

export interface Simulator {
  url: string;
  keystoneUrl: string;
  /** Orchestration endpoint including `/v1/<tenant_id>`. */
  heatUrl: string;
  deltacloudUrl: string;
  zaqarUrl: string;
  credentials: SimCredentials;
  handle: SimulatorControl;
  close(): Promise<void>;
}
