/**
 * Admin routes of the strategy side: `GET`/`PUT /admin/strategy` (the strategy in force, and
 * switching it on every replica) and `GET /admin/status` (strategy, backends, cache, feed and
 * queues at a glance).
 */
import { z } from 'zod';
import type { BackendRegistry } from '../backends/backend-registry.js';
import type { GatewayModule } from '../gateway.js';
import type { ApiRouter } from '../http/api-router.js';
import type { ChangeFeed } from '../store/change-feed.js';
import type { StateStore } from '../store/state-store.js';
import { STRATEGY_NAMES } from '../strategy/registry.js';
import type { Scheduler } from '../strategy/scheduler.js';
import type { StrategyRuntime } from '../strategy/strategy-runtime.js';

export interface AdminModuleDeps {
  runtime: StrategyRuntime;
  backends: BackendRegistry;
  store: StateStore;
  feed: ChangeFeed;
  scheduler: Scheduler;
  now: () => number;
}

export class AdminModule implements GatewayModule {
  readonly name = 'admin';
  private readonly sections: Pick<GatewayModule, 'status'>[] = [];

  constructor(private readonly deps: AdminModuleDeps) {}

  /** Adds a module's own section (e.g. `push`) to `GET /admin/status`. */
  include(module: Pick<GatewayModule, 'status'>): void {
    this.sections.push(module);
  }

  routes(api: ApiRouter): void {
    const names = STRATEGY_NAMES as [string, ...string[]];
    const strategyState = z.object({
      name: z.enum(names).describe('the default strategy (strategy.name, or as switched)'),
      since: z.string().nullable(),
      by: z.string().nullable(),
      running: z.enum(names).nullable().describe('the default strategy this replica runs right now'),
      available: z.array(z.enum(names)),
      backends: z
        .array(
          z.object({
            backendId: z.string(),
            kind: z.string(),
            strategy: z.enum(names),
            source: z.enum(['default', 'config', 'admin']).describe('default: follows the default; config: backends[].strategy; admin: PUT with backendId'),
            since: z.string().nullable(),
            by: z.string().nullable(),
            running: z.enum(names).nullable().describe('the strategy this replica runs for the backend right now'),
          }),
        )
        .describe('the strategy of each backend'),
    });
    const { runtime } = this.deps;
    api.route({
      method: 'get',
      path: '/admin/strategy',
      summary: 'The strategy in force',
      tag: 'admin',
      auth: ['admin'],
      responses: { 200: { description: 'strategy state', schema: strategyState } },
      handler: async ({ res }) => res.json(await runtime.describe()),
    });
    api.route({
      method: 'put',
      path: '/admin/strategy',
      summary: 'Switch strategy on every replica (the default, or one backend\'s)',
      description:
        'Without backendId the default strategy changes (backends with their own keep theirs); with backendId only that backend changes. ' +
        'The new strategy starts before the old one stops; the cache and feed are kept; one gateway.strategy_changed event is appended (with backendId for a backend).',
      tag: 'admin',
      auth: ['admin'],
      body: z
        .object({
          name: z.enum(names, { error: `must be one of ${names.join(', ')}` }),
          backendId: z.string().min(1).max(63).optional().describe('switch only this backend (backends[].id)'),
        })
        .strict(),
      responses: { 200: { description: 'switched (or already running)', schema: strategyState.extend({ changed: z.boolean() }) } },
      handler: async ({ body, principal, res }) => {
        const { changed } = await runtime.switchTo(body.name, `admin:${principal?.name ?? 'unknown'}`, body.backendId);
        res.json({ ...(await runtime.describe()), changed });
      },
    });
    api.route({
      method: 'get',
      path: '/admin/status',
      summary: 'Strategy, backends, cache, feed and queues',
      tag: 'admin',
      auth: ['admin'],
      responses: { 200: { description: 'status' } },
      handler: async ({ res }) => res.json(await this.collect()),
    });
  }

  private async collect() {
    const { store, feed, scheduler, backends } = this.deps;
    const [strategy, pings, counts, oldest, info, queues, schedules] = await Promise.all([
      this.deps.runtime.describe(),
      backends.pings(),
      store.counts(),
      store.oldestObservedAtMs(),
      feed.info(),
      scheduler.counts(),
      scheduler.schedules(),
    ]);
    const sections = await Promise.all(this.sections.map((m) => m.status?.() ?? {}));
    const now = this.deps.now();
    return {
      strategy,
      backends: pings,
      cache: { ...counts, oldestObservedAt: oldest === null ? null : new Date(oldest).toISOString(), maxAgeMs: oldest === null ? null : now - oldest },
      feed: { length: info.length, lastCursor: info.lastCursor, firstCursor: info.firstCursor },
      queues: { strategy: queues, schedules },
      ...Object.assign({}, ...sections),
    };
  }
}
