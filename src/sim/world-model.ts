/**
 * The simulator's world as data: Heat stacks holding Nova servers, their events, the
 * ground-truth timeline, and the notices (pushes) a change emits. {@link ScenarioWorld} adds
 * the seeded change process and the follow-up transitions on top.
 */
import { Prng } from './prng.js';
import {
  serverEvent,
  stackEvent,
  hex2,
  type HeatAction,
  type HeatStatus,
  type NovaStatus,
  type SimEvent,
  type SimServer,
  type SimStack,
  type TruthKind,
  type TruthRecord,
  type WorldNotice,
  type WorldOptions,
} from './scenario-types.js';

export abstract class WorldModel {
  readonly stacks = new Map<string, SimStack>();
  readonly servers = new Map<string, SimServer>();
  /** Live (listed) stacks in creation order; deleted stacks stay in `stacks` only. */
  protected readonly liveStackIds: string[] = [];
  protected readonly truthLog: TruthRecord[] = [];
  protected readonly listeners = new Set<(notice: WorldNotice) => void>();
  protected readonly prng: Prng;
  protected nowMs: number;
  private stackCounter = 0;
  private ipCounter = 0;
  /** Bumped on every visible change; renderers cache on it. */
  version = 0;

  readonly launchDurationMs: number;
  readonly rebootWindowMs: number;
  readonly deleteDurationMs: number;
  readonly maxEventsPerStack: number;
  readonly eventPurgeBatchSize: number;
  private readonly shutoffState: 'STOPPED' | 'UNKNOWN';

  constructor(protected readonly options: WorldOptions) {
    this.prng = new Prng(options.seed);
    this.nowMs = options.startMs;
    this.launchDurationMs = options.launchDurationMs ?? 5_000;
    this.rebootWindowMs = options.rebootWindowMs ?? 3_000;
    this.deleteDurationMs = options.deleteDurationMs ?? 2_000;
    this.maxEventsPerStack = options.maxEventsPerStack ?? 1_000;
    this.eventPurgeBatchSize = Math.max(1, options.eventPurgeBatchSize ?? 200);
    this.shutoffState = options.deltacloudShutoffState ?? 'STOPPED';
  }

  now(): number {
    return this.nowMs;
  }

  onNotice(listener: (notice: WorldNotice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  truth(since?: number | string): TruthRecord[] {
    if (since === undefined) return this.truthLog.slice();
    if (typeof since === 'number') return this.truthLog.filter((r) => r.seq > since);
    const sinceMs = Date.parse(since);
    return this.truthLog.filter((r) => r.atMs > sinceMs);
  }

  /** Live stacks, oldest first. */
  liveStacks(): SimStack[] {
    const out: SimStack[] = [];
    for (const id of this.liveStackIds) {
      const stack = this.stacks.get(id);
      if (stack) out.push(stack);
    }
    return out;
  }

  /** Servers that exist in Nova (and Deltacloud), in stack creation order. */
  liveServers(): SimServer[] {
    const out: SimServer[] = [];
    for (const stack of this.liveStacks()) {
      for (const id of stack.serverIds) {
        const server = this.servers.get(id);
        if (server) out.push(server);
      }
    }
    return out;
  }

  /** Deltacloud state for a Nova status (see docs/simulator.md for the choice on REBOOT). */
  deltacloudState(status: NovaStatus): string | null {
    switch (status) {
      case 'ACTIVE':
        return 'RUNNING';
      case 'BUILD':
        return 'PENDING';
      // The Deltacloud openstack driver maps /.*reboot/ to PENDING; so do we.
      case 'REBOOT':
        return 'PENDING';
      case 'SHUTOFF':
        return this.shutoffState;
      case 'ERROR':
        return 'ERROR';
      case 'DELETED':
        return null;
    }
  }

  protected seedInitialWorld(): void {
    const { deployments, instancesPerDeployment } = this.options;
    for (let d = 0; d < deployments; d++) {
      // Initial stacks were created over the hour before the start, oldest first.
      const createdAt = this.nowMs - 3_600_000 + Math.floor((d * 3_600_000) / Math.max(1, deployments));
      const stack = this.createStack('CREATE', 'COMPLETE', 'Stack CREATE completed successfully', createdAt);
      stack.events.push(
        stackEvent({ ...stack, status: 'IN_PROGRESS', statusReason: 'Stack CREATE started' }, createdAt, this.prng.uuid()),
      );
      for (let i = 0; i < instancesPerDeployment; i++) {
        const server = this.createServer(stack, i, 'ACTIVE', 'CREATE', 'COMPLETE', 'state changed', createdAt);
        server.networked = true;
        server.launchedAtMs = createdAt + 30_000;
        server.updatedAtMs = createdAt + 30_000;
        server.resourceUpdatedAtMs = createdAt + 30_000;
        stack.events.push(
          serverEvent({ ...server, resourceStatus: 'IN_PROGRESS' }, createdAt, this.prng.uuid()),
          serverEvent(server, createdAt + 30_000, this.prng.uuid()),
        );
      }
      stack.events.push(stackEvent(stack, createdAt + 30_000, this.prng.uuid()));
      this.purgeEvents(stack);
      this.record('initial', stack, null);
      for (const id of stack.serverIds) {
        const server = this.servers.get(id);
        if (server) this.record('initial', stack, server);
      }
    }
  }

  protected createStack(action: HeatAction, status: HeatStatus, reason: string, createdAtMs = this.nowMs): SimStack {
    this.stackCounter += 1;
    const stack: SimStack = {
      id: this.prng.uuid(),
      name: `deployment-${String(this.stackCounter).padStart(5, '0')}`,
      action,
      status,
      statusReason: reason,
      createdAtMs,
      updatedAtMs: null,
      deletedAtMs: null,
      serverIds: [],
      events: [],
    };
    this.stacks.set(stack.id, stack);
    this.liveStackIds.push(stack.id);
    this.version += 1;
    return stack;
  }

  protected createServer(
    stack: SimStack,
    index: number,
    novaStatus: NovaStatus,
    action: HeatAction,
    status: HeatStatus,
    reason: string,
    createdAtMs = this.nowMs,
  ): SimServer {
    this.ipCounter += 1;
    const n = this.ipCounter;
    const resourceName = `server_${index}`;
    const server: SimServer = {
      id: this.prng.uuid(),
      deploymentId: stack.id,
      resourceName,
      name: `${stack.name}-${resourceName}-${this.prng.token(12)}`,
      novaStatus,
      taskState: novaStatus === 'BUILD' ? 'spawning' : null,
      resourceAction: action,
      resourceStatus: status,
      resourceStatusReason: reason,
      fixedIp: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
      floatingIp: `172.${16 + ((n >> 16) & 15)}.${(n >> 8) & 255}.${n & 255}`,
      mac: `fa:16:3e:${hex2(n >> 16)}:${hex2(n >> 8)}:${hex2(n)}`,
      networked: false,
      createdAtMs,
      updatedAtMs: createdAtMs,
      resourceUpdatedAtMs: createdAtMs,
      launchedAtMs: null,
    };
    this.servers.set(server.id, server);
    stack.serverIds.push(server.id);
    return server;
  }

  protected setNova(server: SimServer, status: NovaStatus, taskState: string | null, kind: TruthKind): void {
    const old = server.novaStatus;
    const oldTask = server.taskState;
    server.novaStatus = status;
    server.taskState = taskState;
    server.updatedAtMs = this.nowMs;
    this.emit({ type: 'nova-update', server, oldStatus: old, oldTaskState: oldTask, atMs: this.nowMs });
    const stack = this.stacks.get(server.deploymentId);
    if (stack) this.record(kind, stack, server);
  }

  protected addEvent(stack: SimStack, event: SimEvent): void {
    stack.events.push(event);
    this.purgeEvents(stack);
    this.emit({ type: 'heat-event', stack, event });
  }

  /** Heat deletes the oldest batch once a stack holds max_events_per_stack events. */
  protected purgeEvents(stack: SimStack): void {
    if (stack.events.length > this.maxEventsPerStack) {
      const excess = stack.events.length - this.maxEventsPerStack;
      stack.events.splice(0, Math.max(excess, Math.min(this.eventPurgeBatchSize, stack.events.length - 1)));
    }
  }

  protected record(kind: TruthKind, stack: SimStack, server: SimServer | null): void {
    this.version += 1;
    const rec: TruthRecord = {
      seq: this.truthLog.length + 1,
      at: new Date(this.nowMs).toISOString(),
      atMs: this.nowMs,
      kind,
      deploymentId: stack.id,
      instanceId: server ? server.id : null,
      stackStatus: `${stack.action}_${stack.status}`,
    };
    if (server) {
      rec.novaStatus = server.novaStatus;
      rec.resourceStatus = `${server.resourceAction}_${server.resourceStatus}`;
      rec.deltacloudState = this.deltacloudState(server.novaStatus);
    }
    this.truthLog.push(rec);
  }

  protected emit(notice: WorldNotice): void {
    for (const listener of this.listeners) {
      try {
        listener(notice);
      } catch {
        // A failing listener (push) must never break the world.
      }
    }
  }
}
