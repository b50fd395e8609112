/**
 * The simulator's world: Heat stacks holding Nova servers, a seeded change process, the
 * scheduled follow-up transitions of each change, and the ground-truth timeline.
 *
 * Everything here runs on the world's own clock (`now()`), which is either virtual (tests
 * call `runUntil`) or the wall clock (a timer calls `runUntil(Date.now())`). Given one seed
 * and one sequence of `runUntil`/`applyChange` calls, the world makes identical changes.
 */
import { Prng } from './prng.js';

export const CHANGE_KINDS = ['launch', 'crash', 'reboot', 'create_failure', 'delete'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** Nova server statuses the simulator produces (DELETED only in notifications and truth). */
export type NovaStatus = 'BUILD' | 'ACTIVE' | 'REBOOT' | 'SHUTOFF' | 'ERROR' | 'DELETED';
export type HeatAction = 'INIT' | 'CREATE' | 'DELETE';
export type HeatStatus = 'IN_PROGRESS' | 'COMPLETE' | 'FAILED';

/** Truth record kinds: the change kinds plus the follow-up transitions and the initial world. */
export type TruthKind =
  | 'initial'
  | ChangeKind
  | 'launch_complete'
  | 'reboot_complete'
  | 'create_failed'
  | 'delete_complete';

export interface SimServer {
  /** Nova server id (the Heat resource's physical_resource_id). */
  id: string;
  deploymentId: string;
  /** Template resource name, e.g. `server_3`. */
  resourceName: string;
  /** Nova server name (Heat's physical resource name: stack-resource-suffix). */
  name: string;
  novaStatus: NovaStatus;
  /** Nova task_state that goes with the status (REBOOT is vm_state active + rebooting). */
  taskState: string | null;
  resourceAction: HeatAction;
  resourceStatus: HeatStatus;
  resourceStatusReason: string;
  fixedIp: string;
  floatingIp: string;
  mac: string;
  /** Networking is attached once the server leaves BUILD (an ERROR-at-create server has none). */
  networked: boolean;
  createdAtMs: number;
  /** Nova `updated` (any server change). */
  updatedAtMs: number;
  /** Heat resource updated_time (resource status changes only). */
  resourceUpdatedAtMs: number;
  launchedAtMs: number | null;
}

export interface SimEvent {
  id: string;
  atMs: number;
  resourceName: string;
  physicalResourceId: string;
  resourceType: string;
  action: HeatAction;
  status: HeatStatus;
  reason: string;
}

export interface SimStack {
  id: string;
  name: string;
  action: HeatAction;
  status: HeatStatus;
  statusReason: string;
  createdAtMs: number;
  updatedAtMs: number | null;
  deletedAtMs: number | null;
  serverIds: string[];
  /** Oldest first; bounded by `maxEventsPerStack` as Heat purges old events. */
  events: SimEvent[];
}

/** One ground-truth record: raw backend values, mapped by the comparer with src/model/states.ts. */
export interface TruthRecord {
  seq: number;
  at: string;
  atMs: number;
  kind: TruthKind;
  deploymentId: string;
  instanceId: string | null;
  novaStatus?: NovaStatus;
  /** Heat resource_status as the API shows it, e.g. CREATE_COMPLETE. */
  resourceStatus?: string;
  stackStatus?: string;
  /** Deltacloud state; null when the instance is absent from Deltacloud listings. */
  deltacloudState?: string | null;
}

/** What a change tells push subscribers. */
export type WorldNotice =
  | { type: 'heat-event'; stack: SimStack; event: SimEvent }
  | {
      type: 'nova-update';
      server: SimServer;
      oldStatus: NovaStatus | null;
      oldTaskState: string | null;
      atMs: number;
    };

export interface WorldOptions {
  seed: number | string;
  deployments: number;
  instancesPerDeployment: number;
  /** Random changes per second of world time; 0 disables the random process. */
  changeRate: number;
  /** World time at construction. */
  startMs: number;
  /** @defaultValue 5_000 */
  launchDurationMs?: number;
  /** @defaultValue 3_000 */
  rebootWindowMs?: number;
  /** @defaultValue 2_000 */
  deleteDurationMs?: number;
  /** Heat's max_events_per_stack. @defaultValue 1_000 */
  maxEventsPerStack?: number;
  /** Heat's event_purge_batch_size. @defaultValue 200 */
  eventPurgeBatchSize?: number;
  /** Relative weights of the random change kinds. */
  changeWeights?: Partial<Record<ChangeKind, number>>;
  /** Deltacloud state for SHUTOFF (the real openstack driver says UNKNOWN). @defaultValue 'STOPPED' */
  deltacloudShutoffState?: 'STOPPED' | 'UNKNOWN';
}

interface Scheduled {
  atMs: number;
  order: number;
  kind: 'launch_complete' | 'create_failed' | 'reboot_complete' | 'delete_complete';
  targetId: string;
}

const DEFAULT_WEIGHTS: Record<ChangeKind, number> = {
  launch: 2,
  crash: 2,
  reboot: 3,
  create_failure: 1,
  delete: 2,
};

const SERVER_TYPE = 'OS::Nova::Server';
const STACK_TYPE = 'OS::Heat::Stack';

export class ScenarioWorld {
  readonly stacks = new Map<string, SimStack>();
  readonly servers = new Map<string, SimServer>();
  /** Live (listed) stacks in creation order; deleted stacks stay in `stacks` only. */
  private readonly liveStackIds: string[] = [];
  private readonly truthLog: TruthRecord[] = [];
  private readonly scheduled: Scheduled[] = [];
  private readonly listeners = new Set<(notice: WorldNotice) => void>();
  private readonly prng: Prng;
  private nowMs: number;
  private nextRandomAtMs: number;
  private order = 0;
  private stackCounter = 0;
  private ipCounter = 0;
  /** Bumped on every visible change; renderers cache on it. */
  version = 0;

  readonly launchDurationMs: number;
  readonly rebootWindowMs: number;
  readonly deleteDurationMs: number;
  readonly maxEventsPerStack: number;
  readonly eventPurgeBatchSize: number;
  private readonly weights: [ChangeKind, number][];
  private readonly weightTotal: number;
  private readonly shutoffState: 'STOPPED' | 'UNKNOWN';
  changeRate: number;

  constructor(private readonly options: WorldOptions) {
    this.prng = new Prng(options.seed);
    this.nowMs = options.startMs;
    this.launchDurationMs = options.launchDurationMs ?? 5_000;
    this.rebootWindowMs = options.rebootWindowMs ?? 3_000;
    this.deleteDurationMs = options.deleteDurationMs ?? 2_000;
    this.maxEventsPerStack = options.maxEventsPerStack ?? 1_000;
    this.eventPurgeBatchSize = Math.max(1, options.eventPurgeBatchSize ?? 200);
    this.shutoffState = options.deltacloudShutoffState ?? 'STOPPED';
    const weights = { ...DEFAULT_WEIGHTS, ...options.changeWeights };
    this.weights = CHANGE_KINDS.map((k) => [k, Math.max(0, weights[k])]);
    this.weightTotal = this.weights.reduce((sum, [, w]) => sum + w, 0);
    this.changeRate = options.changeRate;
    this.seedInitialWorld();
    this.nextRandomAtMs = this.scheduleNextRandom(this.nowMs);
  }

  now(): number {
    return this.nowMs;
  }

  onNotice(listener: (notice: WorldNotice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Changes the random change rate from now on. */
  setChangeRate(rate: number): void {
    this.changeRate = rate;
    this.nextRandomAtMs = this.scheduleNextRandom(this.nowMs);
  }

  /**
   * Moves world time to `targetMs`, applying every due scheduled transition and random
   * change in time order (ties: scheduled transitions first, then by scheduling order).
   */
  runUntil(targetMs: number): void {
    for (;;) {
      const next = this.scheduled[0];
      const nextScheduledAt = next ? next.atMs : Infinity;
      const nextAt = Math.min(nextScheduledAt, this.nextRandomAtMs);
      if (nextAt > targetMs) break;
      this.nowMs = Math.max(this.nowMs, nextAt);
      if (next && nextScheduledAt <= this.nextRandomAtMs) {
        this.scheduled.shift();
        this.runScheduled(next);
      } else {
        this.applyRandomChange();
        this.nextRandomAtMs = this.scheduleNextRandom(this.nowMs);
      }
    }
    this.nowMs = Math.max(this.nowMs, targetMs);
  }

  /**
   * Applies one change now. `target` is a stack id (delete) or a server id (crash, reboot);
   * without it a valid target is drawn from the PRNG. Returns the truth records it produced
   * (empty when no valid target exists).
   */
  applyChange(kind: ChangeKind, target?: string, options: { crashTo?: 'ERROR' | 'SHUTOFF' } = {}): TruthRecord[] {
    const before = this.truthLog.length;
    switch (kind) {
      case 'launch':
        this.launch(false);
        break;
      case 'create_failure':
        this.launch(true);
        break;
      case 'crash': {
        const server = target ? this.servers.get(target) : this.pickServer('ACTIVE');
        if (server && server.novaStatus === 'ACTIVE') this.crash(server, options.crashTo);
        break;
      }
      case 'reboot': {
        const server = target ? this.servers.get(target) : this.pickServer('ACTIVE');
        if (server && server.novaStatus === 'ACTIVE') this.reboot(server);
        break;
      }
      case 'delete': {
        const stack = target ? this.stacks.get(target) : this.pickDeletableStack();
        if (stack && stack.status !== 'IN_PROGRESS' && stack.deletedAtMs === null && stack.action !== 'DELETE') {
          this.deleteStack(stack);
        }
        break;
      }
    }
    return this.truthLog.slice(before);
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

  // ---- changes ---------------------------------------------------------------------------

  private launch(fail: boolean): void {
    const stack = this.createStack('CREATE', 'IN_PROGRESS', 'Stack CREATE started');
    this.addEvent(stack, stackEvent(stack, this.nowMs, this.prng.uuid()));
    const kind: TruthKind = fail ? 'create_failure' : 'launch';
    this.record(kind, stack, null);
    for (let i = 0; i < this.options.instancesPerDeployment; i++) {
      const server = this.createServer(stack, i, 'BUILD', 'CREATE', 'IN_PROGRESS', 'state changed');
      this.addEvent(stack, serverEvent(server, this.nowMs, this.prng.uuid()));
      this.emit({ type: 'nova-update', server, oldStatus: null, oldTaskState: null, atMs: this.nowMs });
      this.record(kind, stack, server);
    }
    this.schedule(this.launchDurationMs, fail ? 'create_failed' : 'launch_complete', stack.id);
  }

  private completeLaunch(stack: SimStack, fail: boolean): void {
    if (stack.action !== 'CREATE' || stack.status !== 'IN_PROGRESS') return;
    const kind: TruthKind = fail ? 'create_failed' : 'launch_complete';
    let failedReason = '';
    stack.serverIds.forEach((id, index) => {
      const server = this.servers.get(id);
      if (!server) return;
      const old = server.novaStatus;
      const oldTask = server.taskState;
      if (fail && index === 0) {
        failedReason =
          `ResourceInError: resources.${server.resourceName}: Went to status ERROR due to ` +
          '"Message: No valid host was found. There are not enough hosts available., Code: 500"';
        server.novaStatus = 'ERROR';
        server.taskState = null;
        server.resourceStatus = 'FAILED';
        server.resourceStatusReason = failedReason;
      } else {
        server.novaStatus = 'ACTIVE';
        server.taskState = null;
        server.networked = true;
        server.launchedAtMs = this.nowMs;
        server.resourceStatus = 'COMPLETE';
        server.resourceStatusReason = 'state changed';
      }
      server.updatedAtMs = this.nowMs;
      server.resourceUpdatedAtMs = this.nowMs;
      this.addEvent(stack, serverEvent(server, this.nowMs, this.prng.uuid()));
      this.emit({ type: 'nova-update', server, oldStatus: old, oldTaskState: oldTask, atMs: this.nowMs });
      this.record(kind, stack, server);
    });
    stack.status = fail ? 'FAILED' : 'COMPLETE';
    stack.statusReason = fail ? `Resource CREATE failed: ${failedReason}` : 'Stack CREATE completed successfully';
    stack.updatedAtMs = null; // Heat leaves updated_time null until a stack UPDATE.
    this.addEvent(stack, stackEvent(stack, this.nowMs, this.prng.uuid()));
    this.record(kind, stack, null);
  }

  private crash(server: SimServer, to?: 'ERROR' | 'SHUTOFF'): void {
    const target = to ?? (this.prng.chance(0.5) ? 'ERROR' : 'SHUTOFF');
    // As in real Heat, a server dying under a stack does not touch resource_status: only Nova
    // (and hence Deltacloud) knows.
    this.setNova(server, target, null, 'crash');
  }

  private reboot(server: SimServer): void {
    this.setNova(server, 'REBOOT', 'rebooting', 'reboot');
    this.schedule(this.rebootWindowMs, 'reboot_complete', server.id);
  }

  private deleteStack(stack: SimStack): void {
    stack.action = 'DELETE';
    stack.status = 'IN_PROGRESS';
    stack.statusReason = 'Stack DELETE started';
    this.addEvent(stack, stackEvent(stack, this.nowMs, this.prng.uuid()));
    this.record('delete', stack, null);
    for (const id of stack.serverIds) {
      const server = this.servers.get(id);
      if (!server) continue;
      server.resourceAction = 'DELETE';
      server.resourceStatus = 'IN_PROGRESS';
      server.resourceStatusReason = 'state changed';
      server.resourceUpdatedAtMs = this.nowMs;
      // Heat asks Nova to delete the server: Nova sets task_state deleting and says so.
      const oldTask = server.taskState;
      server.taskState = 'deleting';
      server.updatedAtMs = this.nowMs;
      this.emit({ type: 'nova-update', server, oldStatus: server.novaStatus, oldTaskState: oldTask, atMs: this.nowMs });
      this.addEvent(stack, serverEvent(server, this.nowMs, this.prng.uuid()));
      this.record('delete', stack, server);
    }
    this.schedule(this.deleteDurationMs, 'delete_complete', stack.id);
  }

  private completeDelete(stack: SimStack): void {
    if (stack.action !== 'DELETE' || stack.status !== 'IN_PROGRESS') return;
    for (const id of stack.serverIds) {
      const server = this.servers.get(id);
      if (!server) continue;
      const old = server.novaStatus;
      const oldTask = server.taskState;
      server.novaStatus = 'DELETED';
      server.taskState = null;
      server.resourceStatus = 'COMPLETE';
      server.updatedAtMs = this.nowMs;
      server.resourceUpdatedAtMs = this.nowMs;
      this.addEvent(stack, serverEvent(server, this.nowMs, this.prng.uuid()));
      this.emit({ type: 'nova-update', server, oldStatus: old, oldTaskState: oldTask, atMs: this.nowMs });
      this.record('delete_complete', stack, server);
      this.servers.delete(id);
    }
    stack.status = 'COMPLETE';
    stack.statusReason = 'Stack DELETE completed successfully';
    stack.deletedAtMs = this.nowMs;
    this.addEvent(stack, stackEvent(stack, this.nowMs, this.prng.uuid()));
    this.record('delete_complete', stack, null);
    const index = this.liveStackIds.indexOf(stack.id);
    if (index >= 0) this.liveStackIds.splice(index, 1);
  }

  private runScheduled(item: Scheduled): void {
    switch (item.kind) {
      case 'launch_complete':
      case 'create_failed': {
        const stack = this.stacks.get(item.targetId);
        if (stack) this.completeLaunch(stack, item.kind === 'create_failed');
        break;
      }
      case 'delete_complete': {
        const stack = this.stacks.get(item.targetId);
        if (stack) this.completeDelete(stack);
        break;
      }
      case 'reboot_complete': {
        const server = this.servers.get(item.targetId);
        if (server && server.novaStatus === 'REBOOT') this.setNova(server, 'ACTIVE', null, 'reboot_complete');
        break;
      }
    }
  }

  private applyRandomChange(): void {
    if (this.weightTotal <= 0) return;
    let roll = this.prng.next() * this.weightTotal;
    let kind: ChangeKind = 'launch';
    for (const [k, w] of this.weights) {
      if (roll < w) {
        kind = k;
        break;
      }
      roll -= w;
    }
    this.applyChange(kind);
  }

  // ---- helpers -----------------------------------------------------------------------------

  private seedInitialWorld(): void {
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

  private createStack(action: HeatAction, status: HeatStatus, reason: string, createdAtMs = this.nowMs): SimStack {
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

  private createServer(
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

  private setNova(server: SimServer, status: NovaStatus, taskState: string | null, kind: TruthKind): void {
    const old = server.novaStatus;
    const oldTask = server.taskState;
    server.novaStatus = status;
    server.taskState = taskState;
    server.updatedAtMs = this.nowMs;
    this.emit({ type: 'nova-update', server, oldStatus: old, oldTaskState: oldTask, atMs: this.nowMs });
    const stack = this.stacks.get(server.deploymentId);
    if (stack) this.record(kind, stack, server);
  }

  private addEvent(stack: SimStack, event: SimEvent): void {
    stack.events.push(event);
    this.purgeEvents(stack);
    this.emit({ type: 'heat-event', stack, event });
  }

  /** Heat deletes the oldest batch once a stack holds max_events_per_stack events. */
  private purgeEvents(stack: SimStack): void {
    if (stack.events.length > this.maxEventsPerStack) {
      const excess = stack.events.length - this.maxEventsPerStack;
      stack.events.splice(0, Math.max(excess, Math.min(this.eventPurgeBatchSize, stack.events.length - 1)));
    }
  }

  private record(kind: TruthKind, stack: SimStack, server: SimServer | null): void {
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

  private emit(notice: WorldNotice): void {
    for (const listener of this.listeners) {
      try {
        listener(notice);
      } catch {
        // A failing listener (push) must never break the world.
      }
    }
  }

  private schedule(delayMs: number, kind: Scheduled['kind'], targetId: string): void {
    const item: Scheduled = { atMs: this.nowMs + delayMs, order: this.order++, kind, targetId };
    let i = this.scheduled.length;
    while (i > 0) {
      const prev = this.scheduled[i - 1];
      if (prev && (prev.atMs < item.atMs || (prev.atMs === item.atMs && prev.order < item.order))) break;
      i--;
    }
    this.scheduled.splice(i, 0, item);
  }

  private scheduleNextRandom(fromMs: number): number {
    // Whole milliseconds, so truth times and ISO strings agree exactly.
    return this.changeRate > 0 ? fromMs + Math.max(1, Math.round(this.prng.expMs(this.changeRate))) : Infinity;
  }

  private pickServer(status: NovaStatus): SimServer | undefined {
    const live = this.liveStackIds;
    if (live.length === 0) return undefined;
    for (let attempt = 0; attempt < 32; attempt++) {
      const stack = this.stacks.get(live[this.prng.int(live.length)] ?? '');
      if (!stack || stack.serverIds.length === 0) continue;
      const server = this.servers.get(stack.serverIds[this.prng.int(stack.serverIds.length)] ?? '');
      if (server && server.novaStatus === status && stack.status !== 'IN_PROGRESS') return server;
    }
    return undefined;
  }

  private pickDeletableStack(): SimStack | undefined {
    const live = this.liveStackIds;
    for (let attempt = 0; attempt < 16 && live.length > 0; attempt++) {
      const stack = this.stacks.get(live[this.prng.int(live.length)] ?? '');
      if (stack && stack.status !== 'IN_PROGRESS') return stack;
    }
    return undefined;
  }
}

function hex2(n: number): string {
  return (n & 255).toString(16).padStart(2, '0');
}

function stackEvent(stack: SimStack, atMs: number, id: string): SimEvent {
  return {
    id,
    atMs,
    resourceName: stack.name,
    physicalResourceId: stack.id,
    resourceType: STACK_TYPE,
    action: stack.action,
    status: stack.status,
    reason: stack.statusReason,
  };
}

function serverEvent(server: SimServer, atMs: number, id: string): SimEvent {
  return {
    id,
    atMs,
    resourceName: server.resourceName,
    physicalResourceId: server.id,
    resourceType: SERVER_TYPE,
    action: server.resourceAction,
    status: server.resourceStatus,
    reason: server.resourceStatusReason,
  };
}
