/**
 * Push over RPC: one AMQP consumer per backend with `push.amqp`, running while that backend's
 * strategy trusts pushes (`webhook`, whose source is pushes; its resync stays the safety net).
 * Shows each consumer's state and its queue's depth in `/readyz` and `/admin/status`.
 */
import type { BackendConfig, Config } from '../config/schema.js';
import type { GatewayModule } from '../gateway.js';
import type { ReadinessCheck } from '../http/health.js';
import type { Logger } from '../log/logger.js';
import { AmqpConsumer, type AmqpConsumerOptions, type AmqpConsumerStatus } from './amqp-consumer.js';
import { parsePushBody, type PushUpdate } from './notification-parsers.js';
import { createPushApplier, type PushApplierContext, type PushRouter } from './push-ingest.js';

export interface PushModuleDeps extends PushApplierContext {
  config: () => Config;
}

export interface PushModuleOptions {
  /** How often the module checks which consumers should run. @defaultValue 1_000 */
  checkMs?: number;
  amqp?: AmqpConsumerOptions;
}

/** Backends whose pushes come from an AMQP bus, with the consumer config as a comparable key. */
function amqpBackends(backends: readonly BackendConfig[]): Map<string, { backend: BackendConfig; key: string }> {
  const out = new Map<string, { backend: BackendConfig; key: string }>();
  for (const backend of backends) {
    if (backend.push?.amqp) out.set(backend.id, { backend, key: JSON.stringify(backend.push.amqp) });
  }
  return out;
}

export class PushModule implements GatewayModule {
  readonly name = 'push';
  private readonly consumers = new Map<string, { consumer: AmqpConsumer<PushUpdate>; key: string }>();
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly deps: PushModuleDeps,
    private readonly router: PushRouter,
    private readonly options: PushModuleOptions = {},
  ) {
    this.log = deps.logger.child({ component: 'push' });
  }

  async start(): Promise<void> {
    await this.sync();
    this.timer = setInterval(() => void this.sync(), this.options.checkMs ?? 1_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.syncing;
    await Promise.all([...this.consumers.values()].map(({ consumer }) => consumer.stop()));
    this.consumers.clear();
  }

  configChanged(): Promise<void> {
    return this.sync();
  }

  /** A backend's consumer runs while its strategy trusts pushes. */
  private wantsPushes(backendId: string): boolean {
    try {
      return this.router.strategyFor(backendId).trustsPushes === true;
    } catch {
      return false;
    }
  }

  /** Starts the consumers that should run and stops the others. Serialized. */
  sync(): Promise<void> {
    this.syncing = this.syncing.then(async () => {
      if (this.stopped) return;
      const wanted = new Map([...amqpBackends(this.deps.config().backends)].filter(([id]) => this.wantsPushes(id)));
      for (const [id, running] of [...this.consumers]) {
        if (wanted.get(id)?.key === running.key) continue;
        this.consumers.delete(id);
        await running.consumer.stop();
        this.log.info('stopped consuming notifications', { backend: id });
      }
      for (const [id, { backend, key }] of wanted) {
        if (this.consumers.has(id) || !backend.push?.amqp) continue;
        const consumer = this.createConsumer(backend);
        this.consumers.set(id, { consumer, key });
        consumer.start();
      }
    });
    return this.syncing.catch((err: Error) => void this.log.error('cannot start or stop AMQP consumers', { error: err.message }));
  }

  private createConsumer(backend: BackendConfig): AmqpConsumer<PushUpdate> {
    const applier = createPushApplier(this.deps, this.router, { awaitFetches: true });
    return new AmqpConsumer<PushUpdate>(
      backend.id,
      backend.push!.amqp!,
      {
        parse: (body) => parsePushBody(backend.id, body),
        apply: async (updates) => {
          await applier(updates);
        },
      },
      this.deps.logger,
      this.options.amqp,
    );
  }

  /** Consumer states for `/admin/status`. */
  async amqpStatus(): Promise<AmqpConsumerStatus[]> {
    return Promise.all([...this.consumers.values()].map(({ consumer }) => consumer.status()));
  }

  async status(): Promise<Record<string, unknown>> {
    return { push: { amqp: await this.amqpStatus() } };
  }

  readiness(): ReadinessCheck[] {
    return [...this.consumers.values()].map(({ consumer }) => ({
      name: `amqp:${consumer.backendId}`,
      timeoutMs: 2_000,
      check: async () => {
        const status = await consumer.status();
        if (status.state !== 'consuming') {
          throw new Error(`consumer ${status.state}${status.lastError ? `: ${status.lastError}` : ''}`);
        }
        return { state: status.state, queueDepth: status.queueDepth, consumers: status.consumers };
      },
    }));
  }
}
