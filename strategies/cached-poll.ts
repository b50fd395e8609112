/**
 * `cached-poll`: the gateway polls Heat on a schedule and Conductor's reads are answered from
 * the cache. Adaptive: a deployment with anything in progress (stack *_IN_PROGRESS, an
 * instance pending or shutting down) is polled every `fastIntervalMs`, a steady one every
 * `intervalMs`, each jittered. A steady poll is one resource list (with details) per
 * deployment; a transitional one also shows the stack, to catch its status change. The stack
 * list runs every `intervalMs` (fast while anything moves) to find new and deleted stacks.
 */
import { z } from 'zod';
import { UpstreamError } from '../src/errors.js';
import { DAY, durationMs, fraction, HOUR } from '../src/config/zod-helpers.js';
import { isInProgress } from '../src/model/states.js';
import type { DeploymentSource } from '../src/sources/instance-source.js';
import { defineStrategy } from '../src/strategy/define-strategy.js';
import { jittered, ScheduledStrategy } from '../src/strategy/scheduled-strategy.js';
import type { StrategyContext } from '../src/strategy/strategy.js';

const options = z
  .object({
    intervalMs: durationMs(100, DAY).default(30_000).describe('Poll interval of steady deployments (and of the stack list).'),
    fastIntervalMs: durationMs(100, HOUR).default(2_000).describe('Poll interval while anything is *_IN_PROGRESS, pending or shutting down.'),
    jitter: fraction.default(0.1).describe('± fraction of each interval.'),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.fastIntervalMs > o.intervalMs) {
      ctx.addIssue({ code: 'custom', path: ['fastIntervalMs'], message: `must not exceed intervalMs (${o.intervalMs})` });
    }
  });
type Options = z.output<typeof options>;

const jobs = {
  list: z.object({ backend: z.string() }),
  stack: z.object({ backend: z.string(), stack: z.string() }),
};

/** Due-set member that stands for the stack list (stack members are `name/id`). */
const LIST = '@list';

/** Ticks come often enough that a due target waits at most a quarter of the fast interval. */
const tickMs = (o: Options) => Math.min(1_000, Math.max(50, Math.round(o.fastIntervalMs / 4)));

class CachedPoll extends ScheduledStrategy<Options, typeof jobs> {
  constructor(ctx: StrategyContext<Options>) {
    super(ctx, jobs);
  }

  protected tickMs(): number {
    return Math.min(tickMs(this.options), ...this.ctx.sources.deployments().map((s) => tickMs(this.optionsFor(s.backendId))));
  }

  protected dueSets(): string[] {
    return this.ctx.sources.deployments().map((heat) => this.dueSet(heat.backendId));
  }

  protected dueOf(backendId: string) {
    return [{ set: this.dueSet(backendId) }];
  }

  protected override async begin(): Promise<void> {
    this.handle('list', ({ backend }) => this.pollList(backend));
    this.handle('stack', ({ backend, stack }) => this.pollStack(backend, stack));
    for (const heat of this.ctx.sources.deployments()) {
      await this.ctx.scheduler.setDue(this.dueSet(heat.backendId), LIST, this.ctx.now(), { onlyIfAbsent: true });
    }
  }

  protected async tick(): Promise<void> {
    for (const heat of this.ctx.sources.deployments()) {
      const backend = heat.backendId;
      const due = await this.ctx.scheduler.takeDue(this.dueSet(backend), this.ctx.now(), { limit: 5_000, leaseMs: 60_000 });
      await this.dispatchAll(this.dueSet(backend), [
        ...due.filter((m) => m === LIST).map((member) => ({ member, job: 'list' as const, data: { backend }, key: backend })),
        ...due.filter((m) => m !== LIST).map((member) => ({ member, job: 'stack' as const, data: { backend, stack: member }, key: `${backend}.${member}` })),
      ]);
    }
  }

  private source(backendId: string): DeploymentSource | undefined {
    return this.ctx.sources.deployments().find((s) => s.backendId === backendId);
  }

  /** Lists the stacks; schedules new ones soon; decides when the list runs next. */
  async pollList(backendId: string): Promise<void> {
    const heat = this.source(backendId);
    if (!heat) return;
    const set = this.dueSet(backendId);
    const options = this.optionsFor(backendId);
    let moving = true;
    try {
      const stacks = await this.sync.syncDeploymentList(heat);
      moving = stacks.some((s) => isInProgress(s.status));
      const now = this.ctx.now();
      for (const s of stacks) {
        // New stacks are polled within one fast interval, spread so they do not all land at once.
        await this.ctx.scheduler.setDue(set, `${s.ref.name}/${s.ref.id}`, now + Math.random() * options.fastIntervalMs, { onlyIfAbsent: true });
      }
    } finally {
      const next = moving ? options.fastIntervalMs : options.intervalMs;
      await this.ctx.scheduler.setDue(set, LIST, this.ctx.now() + jittered(next, options.jitter));
    }
  }

  /** Polls one stack: one resource list; a transitional stack is also shown. */
  async pollStack(backendId: string, member: string): Promise<void> {
    const heat = this.source(backendId);
    if (!heat) return;
    const slash = member.lastIndexOf('/');
    const stack = { name: member.slice(0, slash), id: member.slice(slash + 1) };
    const set = this.dueSet(backendId);
    const options = this.optionsFor(backendId);
    const { store } = this.ctx;
    const cached = await store.getDeployment(stack.id);
    let fast = true;
    let forget = false;
    let phaseMs: number | undefined;
    try {
      if (cached?.status === 'DELETE_COMPLETE') {
        // Deleted: keep listing until its servers have vanished (two empty listings), then forget it.
        await store.completeInstanceListing({ deploymentId: stack.id }, [], { source: this.name, observedAtMs: this.ctx.now() });
        const left = (await store.getInstances(await store.instanceIdsOf(stack.id))).filter((i) => i && i.state !== 'vanished');
        forget = left.length === 0;
      } else if (!cached || isInProgress(cached.status)) {
        const result = await this.sync.syncDeployment(heat, stack);
        fast = result?.transitional ?? true;
        // Still unknown after showing it: already deleted (a purged tombstone, or a stack
        // deleted before we ever saw it). Nothing to poll.
        if (!cached && !(await store.getDeployment(stack.id))) forget = true;
        // A stack seen for the first time and already steady takes a random phase in the
        // interval, so a gateway starting on many stacks does not poll them all at once.
        if (!cached && !fast) phaseMs = Math.random() * options.intervalMs;
      } else {
        const result = await this.sync.syncDeploymentInstances(heat, stack, cached.status);
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
        const next = phaseMs ?? jittered(fast ? options.fastIntervalMs : options.intervalMs, options.jitter);
        await this.ctx.scheduler.setDue(set, member, this.ctx.now() + next);
      }
    }
  }
}

export default defineStrategy({
  name: 'cached-poll',
  summary: 'polls Heat on a schedule (fast while anything moves); reads are served from the cache',
  options,
  jobs,
  reads: ['heat'],
  staleAfterMs: (o) => 2 * o.intervalMs + o.fastIntervalMs,
  conformance: {
    kind: 'within',
    // A steady stack is polled within one jittered interval; a new one is found by the stack
    // list (one interval) and polled within one fast interval; each waits at most one tick.
    changeMs: (o) => (o.intervalMs + o.fastIntervalMs) * (1 + o.jitter) + 2 * tickMs(o),
    deletionMs: (o) => (o.intervalMs + o.fastIntervalMs) * (1 + o.jitter) + 2 * tickMs(o),
    recoveryMs: (o) => (o.intervalMs + o.fastIntervalMs) * (1 + o.jitter) + 2 * tickMs(o),
  },
  create: (ctx) => new CachedPoll(ctx),
});
