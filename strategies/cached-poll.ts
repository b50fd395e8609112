/**
 * `cached-poll`: the gateway polls Heat on a schedule and Conductor's reads are answered from
 * the cache. Adaptive: a deployment with anything in progress (stack *_IN_PROGRESS, an
 * instance pending or shutting down) is polled every `fastIntervalMs`, a steady one every
 * `intervalMs`, each jittered. A steady poll is one resource list (with details) per
 * deployment; a transitional one also shows the stack, to catch its status change. The stack
 * list runs every `intervalMs` (fast while anything moves) to find new and deleted stacks.
 */
import { HeatClient } from '../src/backends/heat-client.js';
import { UpstreamError } from '../src/errors.js';
import { isInProgress } from '../src/model/states.js';
import type { JobData } from '../src/strategy/scheduler.js';
import { jittered, ScheduledStrategy } from '../src/strategy/scheduled-strategy.js';

/** Due-set member that stands for the stack list (stack members are `name/id`). */
const LIST = '@list';

export class CachedPollStrategy extends ScheduledStrategy {
  readonly name = 'cached-poll' as const;

  protected strategyName() {
    return 'cached-poll';
  }

  private get opts() {
    return this.ctx.config().strategy.cachedPoll;
  }

  protected tickMs(): number {
    // Ticks come often enough that a due target waits at most a quarter of the fast interval.
    return Math.min(1_000, Math.max(50, Math.round(this.opts.fastIntervalMs / 4)));
  }

  protected dueSets(): string[] {
    return this.sync.heatClients().map((h) => this.dueSet(h.id));
  }

  private dueSet(backendId: string) {
    return `cached-poll:${backendId}`;
  }

  override staleAfterMs(): number {
    return 2 * this.opts.intervalMs + this.opts.fastIntervalMs;
  }

  protected override async begin(): Promise<void> {
    this.handle('list', (data) => this.pollList(String(data.backend)));
    this.handle('stack', (data) => this.pollStack(String(data.backend), String(data.stack)));
    for (const heat of this.sync.heatClients()) {
      await this.ctx.scheduler.setDue(this.dueSet(heat.id), LIST, this.ctx.now(), { onlyIfAbsent: true });
    }
  }

  protected async tick(): Promise<void> {
    const leaseMs = 60_000;
    for (const heat of this.sync.heatClients()) {
      const due = await this.ctx.scheduler.takeDue(this.dueSet(heat.id), this.ctx.now(), 5_000, leaseMs);
      await this.dispatchAll(
        this.dueSet(heat.id),
        due.map((member): { member: string; suffix: string; data: JobData; key: string } =>
          member === LIST
            ? { member, suffix: 'list', data: { backend: heat.id }, key: heat.id }
            : { member, suffix: 'stack', data: { backend: heat.id, stack: member }, key: `${heat.id}.${member}` },
        ),
      );
    }
  }

  private heat(backendId: string): HeatClient | undefined {
    const client = this.sync.client(backendId);
    return client instanceof HeatClient ? client : undefined;
  }

  /** Lists the stacks; schedules new ones soon; decides when the list runs next. */
  async pollList(backendId: string): Promise<void> {
    const heat = this.heat(backendId);
    if (!heat) return;
    const set = this.dueSet(backendId);
    let moving = true;
    try {
      const stacks = await this.sync.syncStackList(heat);
      moving = stacks.some((s) => isInProgress(s.stack_status));
      const now = this.ctx.now();
      for (const s of stacks) {
        // New stacks are polled within one fast interval, spread so they do not all land at once.
        await this.ctx.scheduler.setDue(set, `${s.stack_name}/${s.id}`, now + Math.random() * this.opts.fastIntervalMs, { onlyIfAbsent: true });
      }
    } finally {
      const next = moving ? this.opts.fastIntervalMs : this.opts.intervalMs;
      await this.ctx.scheduler.setDue(set, LIST, this.ctx.now() + jittered(next, this.opts.jitter));
    }
  }

  /** Polls one stack: one resource list; a transitional stack is also shown. */
  async pollStack(backendId: string, member: string): Promise<void> {
    const heat = this.heat(backendId);
    if (!heat) return;
    const slash = member.lastIndexOf('/');
    const stack = { name: member.slice(0, slash), id: member.slice(slash + 1) };
    const set = this.dueSet(backendId);
    const cached = await this.ctx.store.getDeployment(stack.id);
    let fast = true;
    let forget = false;
    let phaseMs: number | undefined;
    try {
      if (cached?.status === 'DELETE_COMPLETE') {
        // Deleted: keep listing until its servers have vanished (two empty listings), then forget it.
        await this.ctx.store.completeInstanceListing({ deploymentId: stack.id }, [], { source: this.name, observedAtMs: this.ctx.now() });
        const left = (await this.ctx.store.getInstances(await this.ctx.store.instanceIdsOf(stack.id))).filter((i) => i && i.state !== 'vanished');
        forget = left.length === 0;
      } else if (!cached || isInProgress(cached.status)) {
        const result = await this.sync.syncDeployment(heat, stack);
        fast = result?.transitional ?? true;
        // Still unknown after showing it: already deleted (a purged tombstone, or a stack
        // deleted before we ever saw it). Nothing to poll.
        if (!cached && !(await this.ctx.store.getDeployment(stack.id))) forget = true;
        // A stack seen for the first time and already steady takes a random phase in the
        // interval, so a gateway starting on many stacks does not poll them all at once.
        if (!cached && !fast) phaseMs = Math.random() * this.opts.intervalMs;
      } else {
        const result = await this.sync.syncStack(heat, stack, cached.status);
        fast = result.transitional;
        if (result.instances.length === 0 && cached.instanceIds.length > 0) {
          // Its servers are all gone: show the stack once to learn why (deleted, failed…).
          fast = (await this.sync.syncDeployment(heat, stack))?.transitional ?? false;
        }
      }
    } catch (err) {
      if (err instanceof UpstreamError && err.upstreamStatus === 404) {
        // Heat forgot the stack: let the next stack list settle it.
        await this.ctx.scheduler.setDue(set, LIST, this.ctx.now());
      } else {
        throw err;
      }
    } finally {
      if (forget) await this.ctx.scheduler.removeDue(set, [member]);
      else if (!this.stopped) {
        const next = phaseMs ?? jittered(fast ? this.opts.fastIntervalMs : this.opts.intervalMs, this.opts.jitter);
        await this.ctx.scheduler.setDue(set, member, this.ctx.now() + next);
      }
    }
  }
}
