/**
 * The simulator's world: Heat stacks holding Nova servers, a seeded change process, the
 * scheduled follow-up transitions of each change, and the ground-truth timeline.
 *
 * Everything here runs on the world's own clock (`now()`), which is either virtual (tests
 * call `runUntil`) or the wall clock (a timer armed for {@link ScenarioWorld.nextDueAtMs}
 * calls `runUntil(Date.now())`). Given one seed
 * and one sequence of `runUntil`/`applyChange` calls, the world makes identical changes.
 */

import {
  CHANGE_KINDS,
  DEFAULT_WEIGHTS,
  stackEvent,
  serverEvent,
  type ChangeKind,
  type NovaStatus,
  type Scheduled,
  type SimServer,
  type SimStack,
  type TruthKind,
  type TruthRecord,
  type WorldOptions,
} from './scenario-types.js';
import { WorldModel } from './world-model.js';

export * from './scenario-types.js';

export class ScenarioWorld extends WorldModel {
  private readonly scheduled: Scheduled[] = [];
  private nextRandomAtMs: number;
  private order = 0;
  private readonly weights: [ChangeKind, number][];
  private readonly weightTotal: number;
  private readonly rescheduleListeners = new Set<() => void>();
  changeRate: number;

  constructor(options: WorldOptions) {
    super(options);
    const weights = { ...DEFAULT_WEIGHTS, ...options.changeWeights };
    this.weights = CHANGE_KINDS.map((k) => [k, Math.max(0, weights[k])]);
    this.weightTotal = this.weights.reduce((sum, [, w]) => sum + w, 0);
    this.changeRate = options.changeRate;
    this.seedInitialWorld();
    this.nextRandomAtMs = this.scheduleNextRandom(this.nowMs);
  }

  /** Changes the random change rate from now on. */
  setChangeRate(rate: number): void {
    this.changeRate = rate;
    this.nextRandomAtMs = this.scheduleNextRandom(this.nowMs);
    this.rescheduled();
  }

  /** World time of the next due change (a scheduled transition or a random change); Infinity for none. */
  nextDueAtMs(): number {
    return Math.min(this.scheduled[0]?.atMs ?? Infinity, this.nextRandomAtMs);
  }

  /** Calls `listener` whenever the next due change may have moved earlier (a transition scheduled, the rate changed). */
  onReschedule(listener: () => void): () => void {
    this.rescheduleListeners.add(listener);
    return () => this.rescheduleListeners.delete(listener);
  }

  private rescheduled(): void {
    for (const listener of this.rescheduleListeners) listener();
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

  private schedule(delayMs: number, kind: Scheduled['kind'], targetId: string): void {
    const item: Scheduled = { atMs: this.nowMs + delayMs, order: this.order++, kind, targetId };
    let i = this.scheduled.length;
    while (i > 0) {
      const prev = this.scheduled[i - 1];
      if (prev && (prev.atMs < item.atMs || (prev.atMs === item.atMs && prev.order < item.order))) break;
      i--;
    }
    this.scheduled.splice(i, 0, item);
    if (i === 0) this.rescheduled();
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
