/**
 * Runs the configured strategy and switches strategies while running. The strategy in force
 * is stored in Redis and announced by pub/sub, so every replica converges on it (a 1 s check
 * covers a missed announcement). A switch starts the new strategy before the old one stops,
 * removes the old one's schedules, appends one `gateway.strategy_changed` event, and leaves
 * the cache and the feed alone; reads are served throughout.
 */
import type { Redis, Result } from 'ioredis';
import { z } from 'zod';
import { STRATEGIES, createStrategy } from '../../strategies/index.js';
import { createBackendClients, pingBackends, type BackendClients } from '../backends/create-backend-clients.js';
import { STRATEGY_NAMES, type BackendConfig, type Config, type StrategyName } from '../config/schema.js';
import { NotFoundError, UnavailableError } from '../errors.js';
import type { Gateway, GatewayModule } from '../gateway.js';
import type { ApiRouter } from '../http/api-router.js';
import type { ReadinessCheck } from '../http/health.js';
import type { Logger } from '../log/logger.js';
import { newEventId } from '../store/state-store.js';
import { parsePushBody } from '../push/notification-parsers.js';
import { authorizePush } from '../push/push-auth.js';
import { createPushApplier } from '../push/push-ingest.js';
import { BullScheduler } from './scheduler.js';
import type { Strategy, StrategyContext } from './strategy.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    hgwSwitchStrategy(...args: (string | number)[]): Result<[number, string], Context>;
  }
}

/**
 * Records the strategy in force; on a real change appends the feed event and publishes, all
 * in one atomic step, so replicas racing on one change produce one event.
 * KEYS: state hash, feed. ARGV: name, by (JSON), config name, now ISO, event id, feed max
 * length, feed min id, channel.
 */
const SWITCH_LUA = `
local old = redis.call('HGET', KEYS[1], 'name')
redis.call('HSET', KEYS[1], 'configName', ARGV[3])
if old == ARGV[1] then return {0, old} end
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'since', ARGV[4], 'by', ARGV[2])
if old then
  local ev = '{"id":"' .. ARGV[5] .. '","type":"gateway.strategy_changed","occurredAt":"' .. ARGV[4] ..
    '","data":{"current":{"strategy":"' .. ARGV[1] .. '"},"previous":{"strategy":"' .. old .. '"},"by":' .. ARGV[2] .. '}}'
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*', 'e', ev, 't', 'gateway.strategy_changed', 'k', '', 'g', '')
  redis.call('XTRIM', KEYS[2], 'MINID', '~', ARGV[7])
end
redis.call('PUBLISH', ARGV[8], ARGV[1])
return {1, old or ''}
`;

export interface StrategyRuntimeOptions {
  /** How often each replica re-reads the stored strategy (pub/sub is the fast path). @defaultValue 1000 */
  convergeCheckMs?: number;
  /** Backend client options (tests use a tiny retry delay). */
  retryBaseDelayMs?: number;
}

/** The strategy in force, for the read routes. */
export interface ActiveStrategy {
  current(): Strategy;
}

export class StrategyRuntime implements GatewayModule, ActiveStrategy {
  readonly name = 'strategies';
  readonly scheduler: BullScheduler;
  private clients: BackendClients;
  private active: Strategy | undefined;
  private switching: Promise<void> = Promise.resolve();
  private subscriber: Redis | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private readonly stateKey: string;
  private readonly channel: string;
  private pingCache: { at: number; results: Awaited<ReturnType<typeof pingBackends>> } | undefined;
  readonly ctx: StrategyContext;
  private readonly applyPush: ReturnType<typeof createPushApplier>;

  constructor(
    private readonly gateway: Gateway,
    private readonly options: StrategyRuntimeOptions = {},
  ) {
    this.log = gateway.logger.child({ component: 'strategy-runtime' });
    this.stateKey = gateway.store.keys.other('strategy');
    this.channel = gateway.store.keys.other('strategy-changes');
    this.clients = this.buildClients(gateway.config.backends);
    this.scheduler = new BullScheduler({
      factory: gateway.redisFactory,
      redis: gateway.redis,
      keyPrefix: gateway.config.redis.keyPrefix,
      logger: gateway.logger,
    });
    this.ctx = {
      store: gateway.store,
      feed: gateway.feed,
      backends: () => this.clients,
      scheduler: this.scheduler,
      config: () => gateway.config,
      logger: gateway.logger,
      metrics: gateway.metrics,
      ingestUrl: (backendId) => `${gateway.publicUrl}/v1/notifications/${encodeURIComponent(backendId)}`,
      now: gateway.now,
    };
    this.applyPush = createPushApplier(gateway, this, { awaitFetches: false });
    if (typeof (gateway.redis as unknown as Record<string, unknown>).hgwSwitchStrategy !== 'function') {
      gateway.redis.defineCommand('hgwSwitchStrategy', { lua: SWITCH_LUA, numberOfKeys: 2 });
    }
  }

  private buildClients(configs: readonly BackendConfig[]): BackendClients {
    return createBackendClients(configs, this.gateway.logger, this.gateway.metrics, {
      ...(this.options.retryBaseDelayMs !== undefined ? { retryBaseDelayMs: this.options.retryBaseDelayMs } : {}),
    });
  }

  /** The strategy serving reads right now. */
  current(): Strategy {
    if (!this.active) {
      throw new UnavailableError('the gateway is starting: no strategy runs yet (it waits for Redis); retry shortly', { retryAfterSeconds: 2 });
    }
    return this.active;
  }

  get backends(): BackendClients {
    return this.clients;
  }

  async start(): Promise<void> {
    this.scheduler.start();
    const configName = this.gateway.config.strategy.name;
    const stored = await this.stored();
    // The config wins when it names a strategy other than the one it named at the last
    // switch (an operator edited it); otherwise the stored choice (PUT /admin/strategy) stands.
    if (!stored.name || stored.configName !== configName) await this.record(configName, 'config');
    const running = (await this.stored()).name as StrategyName;
    await this.converge(running);
    await this.removeForeignSchedules(running);
    // start() runs again when Redis went away halfway through it: nothing below is made twice.
    if (!this.subscriber) {
      this.subscriber = this.gateway.redisFactory.create('strategy-pubsub', { blocking: true });
      this.subscriber.on('message', (_channel: string, name: string) => this.enqueueConverge(name));
    }
    await this.subscriber.subscribe(this.channel);
    let failing = false;
    this.timer ??= setInterval(() => {
      this.stored()
        .then((s) => {
          failing = false;
          if (s.name) this.enqueueConverge(s.name);
        })
        .catch((err: Error) => {
          // Once per outage, not once a second.
          if (!failing) this.log.warn('cannot read the stored strategy; keeping the one running', { error: err.message });
          failing = true;
        });
    }, this.options.convergeCheckMs ?? 1_000);
    this.timer.unref();
  }

  /**
   * Schedules of strategies that no longer run (the config named another strategy while every
   * replica was stopped) would tick forever with nobody to handle them: remove them at start.
   * Every replica runs the stored strategy, so no live replica loses a schedule.
   */
  private async removeForeignSchedules(running: StrategyName): Promise<void> {
    // A final stop of each other strategy removes its schedules and its due sets: members it
    // had leased when its replicas stopped would otherwise wait out the lease when it runs again.
    for (const name of STRATEGY_NAMES) if (name !== running) await createStrategy(name, this.ctx).stop({ final: true });
    // Whatever else is left (a schedule of a strategy this version does not know).
    const removed = await this.scheduler.removeSchedulesExcept([`${running}:`]);
    if (removed.length > 0) this.log.info('removed schedules of strategies that no longer run', { running, removed });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
    await this.switching;
    await this.active?.stop();
    await this.scheduler.close();
  }

  /** Where the strategy in force is recorded. */
  async stored(): Promise<{ name?: string; since?: string; by?: string; configName?: string }> {
    return (await this.gateway.redis.hgetall(this.stateKey)) as { name?: string; since?: string; by?: string; configName?: string };
  }

  /** Switches every replica to `name`. Resolves once this replica runs it. */
  async switchTo(name: StrategyName, by: string): Promise<{ changed: boolean; previous: string | null }> {
    const [changed, previous] = await this.record(name, by);
    await this.converge(name);
    return { changed: changed === 1, previous: previous || null };
  }

  private async record(name: StrategyName, by: string): Promise<[number, string]> {
    const now = this.gateway.now();
    const feed = this.gateway.config.feed;
    const result = await this.gateway.redis.hgwSwitchStrategy(
      this.stateKey,
      this.gateway.feed.keys.feed,
      name,
      JSON.stringify(by),
      this.gateway.config.strategy.name,
      new Date(now).toISOString(),
      newEventId(),
      feed.maxLength,
      `${Math.max(0, now - feed.maxAgeMs)}-0`,
      this.channel,
    );
    // A real change with a previous strategy appended the gateway.strategy_changed event.
    if (result[0] === 1 && result[1]) this.gateway.metrics.feedAppends.inc({ type: 'gateway.strategy_changed' });
    return result;
  }

  private enqueueConverge(name: string): void {
    if (!(STRATEGY_NAMES as readonly string[]).includes(name) || name === this.active?.name) return;
    this.converge(name as StrategyName).catch((err: Error) => this.log.error('strategy switch failed', { to: name, error: err.message }));
  }

  /** Runs `name` here: the new strategy starts before the old one stops. Serialized. */
  private converge(name: StrategyName): Promise<void> {
    this.switching = this.switching.then(async () => {
      if (this.active?.name === name) return;
      const next = createStrategy(name, this.ctx);
      await next.start();
      const previous = this.active;
      this.active = next;
      if (previous) await previous.stop({ final: true });
      this.log.info('strategy running', { strategy: name, previous: previous?.name ?? null });
    });
    return this.switching;
  }

  async configChanged(next: Config, previous: Config): Promise<void> {
    if (JSON.stringify(next.backends) !== JSON.stringify(previous.backends)) {
      this.clients = this.buildClients(next.backends);
      this.pingCache = undefined;
      // Restart so due sets and subscriptions follow the new backends.
      await (this.switching = this.switching.then(async () => {
        await this.active?.stop();
        await this.active?.start();
      }));
    }
    if (next.strategy.name !== previous.strategy.name) await this.switchTo(next.strategy.name, 'config');
  }

  readiness(): ReadinessCheck[] {
    return [...this.clients.values()].map((client) => ({
      name: `backend:${client.id}`,
      timeoutMs: Math.min(client.config.timeoutMs, 3_000),
      check: async () => {
        const results = await this.pingAll();
        const mine = results.find((r) => r.id === client.id);
        if (!mine?.ok) throw new Error(mine?.error ?? 'not checked');
      },
    }));
  }

  /** Backend pings, cached briefly so probes do not load the backends. */
  private async pingAll(): Promise<Awaited<ReturnType<typeof pingBackends>>> {
    const now = Date.now();
    if (!this.pingCache || now - this.pingCache.at > 10_000) this.pingCache = { at: now, results: await pingBackends(this.clients) };
    return this.pingCache.results;
  }

  routes(api: ApiRouter): void {
    const strategyState = z.object({
      name: z.enum(STRATEGY_NAMES),
      since: z.string().nullable(),
      by: z.string().nullable(),
      running: z.enum(STRATEGY_NAMES).nullable().describe('the strategy this replica runs right now'),
      available: z.array(z.enum(STRATEGY_NAMES)),
    });
    const describe = async () => {
      const s = await this.stored();
      return {
        name: (s.name ?? this.gateway.config.strategy.name) as StrategyName,
        since: s.since ?? null,
        by: s.by ? (JSON.parse(s.by) as string) : null,
        running: this.active?.name ?? null,
        available: Object.keys(STRATEGIES) as StrategyName[],
      };
    };
    api.route({
      method: 'get',
      path: '/admin/strategy',
      summary: 'The strategy in force',
      tag: 'admin',
      auth: ['admin'],
      responses: { 200: { description: 'strategy state', schema: strategyState } },
      handler: async ({ res }) => res.json(await describe()),
    });
    api.route({
      method: 'put',
      path: '/admin/strategy',
      summary: 'Switch strategy on every replica',
      description: 'The new strategy starts before the old one stops; the cache and feed are kept; a gateway.strategy_changed event is appended.',
      tag: 'admin',
      auth: ['admin'],
      body: z.object({ name: z.enum(STRATEGY_NAMES, { error: `must be one of ${STRATEGY_NAMES.join(', ')}` }) }).strict(),
      responses: { 200: { description: 'switched (or already running)', schema: strategyState.extend({ changed: z.boolean() }) } },
      handler: async ({ body, principal, res }) => {
        const { changed } = await this.switchTo(body.name, `admin:${principal?.name ?? 'unknown'}`);
        res.json({ ...(await describe()), changed });
      },
    });
    api.route({
      method: 'get',
      path: '/admin/status',
      summary: 'Strategy, backends, cache, feed and queues',
      tag: 'admin',
      auth: ['admin'],
      responses: { 200: { description: 'status' } },
      handler: async ({ res }) => {
        const [strategy, backends, counts, oldest, feed, queues, schedules] = await Promise.all([
          describe(),
          this.pingAll(),
          this.gateway.store.counts(),
          this.gateway.store.oldestObservedAtMs(),
          this.gateway.feed.info(),
          this.scheduler.counts(),
          this.scheduler.schedules(),
        ]);
        const sections = await Promise.all(this.gateway.modules.map((m) => m.status?.() ?? {}));
        const now = this.gateway.now();
        res.json({
          strategy,
          backends,
          cache: { ...counts, oldestObservedAt: oldest === null ? null : new Date(oldest).toISOString(), maxAgeMs: oldest === null ? null : now - oldest },
          feed: { length: feed.length, lastCursor: feed.lastCursor, firstCursor: feed.firstCursor },
          queues: { strategy: queues, schedules },
          ...Object.assign({}, ...sections),
        });
      },
    });
    api.route({
      method: 'post',
      path: '/v1/notifications/:backendId',
      summary: 'Push ingest: oslo notifications, Aodh event alarms, Heat event-sink messages',
      description:
        'Authenticated by a bearer token with role backend, the backend\'s push.token (header, or ?token= for Aodh, which sends no headers), or an HMAC-SHA256 (hex) of the raw body under push.signingSecret in push.signatureHeader. Under the webhook strategy a notification that carries a state is stored before the 202; the gateway fetches only what a push cannot say.',
      tag: 'ingest',
      auth: 'public',
      params: z.object({ backendId: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be a configured backend id') }),
      query: z
        .object({
          token: z
            .string()
            .regex(/^[A-Za-z0-9._~+/=-]{1,1024}$/, 'must be a token of letters, digits and -._~+/= (push.token or a backend-role token)')
            .optional()
            .describe('push.token (or a backend-role token) for senders that cannot set headers, e.g. Aodh'),
        })
        .strict(),
      body: z.unknown().describe('an oslo notification (flat or oslo.message envelope), an Aodh event-alarm body, a Zaqar-delivered os.heat.event message, or a list'),
      responses: { 202: { description: 'accepted', schema: z.object({ accepted: z.literal(true), hints: z.number().int() }) } },
      handler: async ({ params, query, body, req, res }) => {
        const backend = this.gateway.config.backends.find((b) => b.id === params.backendId);
        if (!backend) throw new NotFoundError(`no backend '${params.backendId}' is configured; pushes go to /v1/notifications/<backends[].id>`);
        authorizePush(this.gateway.auth, req, backend, query.token);
        const updates = parsePushBody(backend.id, body);
        // What the push says is stored before the 202, so a backend that gets a 503 retries.
        await this.applyPush(updates).catch((err: Error) => {
          throw new UnavailableError('the push could not be stored now; send it again', { cause: err, retryAfterSeconds: 1 });
        });
        res.status(202).json({ accepted: true, hints: updates.length });
      },
    });
  }
}

export function createStrategyRuntime(options?: StrategyRuntimeOptions) {
  return (gateway: Gateway) => new StrategyRuntime(gateway, options);
}
