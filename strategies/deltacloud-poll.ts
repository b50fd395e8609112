/**
 * `deltacloud-poll`: one `GET /api/instances` per Deltacloud backend per interval; never calls
 * Heat. Instances are attached to deployments through what the cache already knows (learned
 * from Heat earlier) or `namePattern`; the rest go under `unassigned`.
 */
import { z } from 'zod';
import { DAY, durationMs, fraction } from '../src/config/zod-helpers.js';
import { defineStrategy } from '../src/strategy/define-strategy.js';
import { jittered, ScheduledStrategy } from '../src/strategy/scheduled-strategy.js';
import type { StrategyContext } from '../src/strategy/strategy.js';

const options = z
  .object({
    intervalMs: durationMs(100, DAY).default(30_000).describe('Time between two listings of one backend.'),
    jitter: fraction.default(0.1).describe('± fraction of each interval.'),
    namePattern: z
      .string()
      .refine(
        (pattern) => {
          try {
            return new RegExp(pattern).source.includes('?<deployment>');
          } catch {
            return false;
          }
        },
        { message: 'must be a valid regular expression with a named group (?<deployment>…)' },
      )
      .optional()
      .describe('Regex with a named group `deployment` that names the stack from an instance name.'),
  })
  .strict();
type Options = z.output<typeof options>;

const jobs = { list: z.object({ backend: z.string() }) };

/** How often the tick runs: a due backend waits at most a quarter of the interval. */
const tickMs = (o: Options) => Math.min(1_000, Math.max(50, Math.round(o.intervalMs / 4)));

class DeltacloudPoll extends ScheduledStrategy<Options, typeof jobs> {
  constructor(ctx: StrategyContext<Options>) {
    super(ctx, jobs);
  }

  protected tickMs(): number {
    return Math.min(tickMs(this.options), ...this.ctx.sources.instances().map((s) => tickMs(this.optionsFor(s.backendId))));
  }

  protected dueSets(): string[] {
    return [this.dueSet()];
  }

  protected dueOf(backendId: string) {
    return [{ set: this.dueSet(), members: [backendId] }];
  }

  protected override async begin(): Promise<void> {
    this.handle('list', ({ backend }) => this.poll(backend));
    for (const source of this.ctx.sources.instances()) {
      await this.ctx.scheduler.setDue(this.dueSet(), source.backendId, this.ctx.now(), { onlyIfAbsent: true });
    }
  }

  protected async tick(): Promise<void> {
    const due = await this.ctx.scheduler.takeDue(this.dueSet(), this.ctx.now(), { limit: 1_000, leaseMs: 60_000 });
    await this.dispatchAll(this.dueSet(), due.map((backend) => ({ member: backend, job: 'list' as const, data: { backend }, key: backend })));
  }

  /** One listing of one backend. */
  async poll(backendId: string): Promise<void> {
    const source = this.ctx.sources.get(backendId);
    if (!source) return;
    const options = this.optionsFor(backendId);
    try {
      await this.sync.syncScope(source, { all: true }, options.namePattern ? { namePattern: options.namePattern } : {});
    } finally {
      if (!this.stopped) await this.ctx.scheduler.setDue(this.dueSet(), backendId, this.ctx.now() + jittered(options.intervalMs, options.jitter));
    }
  }
}

export default defineStrategy({
  name: 'deltacloud-poll',
  summary: 'one Deltacloud instance list per backend per interval; never calls Heat',
  options,
  jobs,
  reads: ['deltacloud'],
  staleAfterMs: (o) => 2 * o.intervalMs,
  conformance: {
    kind: 'within',
    // The next listing after a change: at most one jittered interval plus one tick.
    changeMs: (o) => o.intervalMs * (1 + o.jitter) + tickMs(o),
    // A listing proves an instance gone only at its second miss.
    deletionMs: (o) => 2 * o.intervalMs * (1 + o.jitter) + tickMs(o),
    recoveryMs: (o) => o.intervalMs * (1 + o.jitter) + tickMs(o),
  },
  create: (ctx) => new DeltacloudPoll(ctx),
});
