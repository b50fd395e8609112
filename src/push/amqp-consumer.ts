/**
 * Consumes a cloud's oslo notifications from RabbitMQ (amqplib) into the gateway.
 *
 * The gateway declares its own durable queue and binds it to the notification exchanges
 * (`heat`, `nova`) with the configured routing keys (`notifications.info`,
 * `notifications.error`, …). It never reads a queue another consumer reads: RabbitMQ would
 * split the messages between them. Replicas of the gateway consume the same queue as
 * competing consumers; the store's atomic observe keeps the feed exactly-once.
 *
 * A message is acknowledged only after what it says is stored, so a gateway killed
 * mid-stream loses nothing (RabbitMQ redelivers, and a redelivery is an identical
 * observation). A message that is not a notification is acknowledged and dropped with a
 * warning: requeueing it would loop forever. When storing fails (Redis away), the batch is
 * requeued after a pause. A lost connection is retried with jittered exponential backoff.
 */
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import type { AmqpPushConfig } from '../config/push-schema.js';
import { InputError } from '../errors.js';
import { redactText, type Logger } from '../log/logger.js';

export type ConsumerState = 'connecting' | 'consuming' | 'reconnecting' | 'stopped';

export interface AmqpConsumerStatus {
  backendId: string;
  /** The broker URL with its password masked. */
  url: string;
  queue: string;
  state: ConsumerState;
  /** When the consumer entered `state`, ISO-8601. */
  since: string;
  lastError: string | null;
  /** Connection attempts that failed since the last success. */
  failedAttempts: number;
  /** Messages applied and acknowledged by this replica. */
  acknowledged: number;
  /** Messages dropped as not being notifications. */
  rejected: number;
  /** Messages requeued because storing failed. */
  requeued: number;
  /** Ready messages in the queue (all replicas), when the broker answered. */
  queueDepth: number | null;
  /** Consumers on the queue (all replicas), when the broker answered. */
  consumers: number | null;
}

export interface AmqpConsumerHandlers<U> {
  /** Reads one message body; an InputError marks it as not a notification. */
  parse(body: unknown): U[];
  /** Stores what a batch says; resolves once it is stored. A rejection requeues the batch. */
  apply(updates: U[]): Promise<void>;
}

export interface AmqpConsumerOptions {
  /** First reconnect delay; doubles per failed attempt. @defaultValue 500 */
  reconnectBaseMs?: number;
  /** @defaultValue 30_000 */
  reconnectMaxMs?: number;
  /** Pause before requeueing a batch that could not be stored. @defaultValue 1_000 */
  requeueDelayMs?: number;
}

interface Delivery {
  message: ConsumeMessage;
  channel: Channel;
}

/** The URL with a heartbeat, so a broker that vanished without closing is noticed in ~20 s. */
function withHeartbeat(url: string): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', '10');
  return parsed.toString();
}

export class AmqpConsumer<U> {
  private connection: ChannelModel | undefined;
  private channel: Channel | undefined;
  private state: ConsumerState = 'connecting';
  private since = Date.now();
  private lastError: string | null = null;
  private failedAttempts = 0;
  private counters = { acknowledged: 0, rejected: 0, requeued: 0 };
  private buffer: Delivery[] = [];
  private flushing: Promise<void> | undefined;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly log: Logger;
  private readonly safeUrl: string;
  private depth: { at: number; value: { messageCount: number; consumerCount: number } | null } | undefined;

  constructor(
    readonly backendId: string,
    private readonly config: AmqpPushConfig,
    private readonly handlers: AmqpConsumerHandlers<U>,
    logger: Logger,
    private readonly options: AmqpConsumerOptions = {},
  ) {
    this.safeUrl = redactText(config.url);
    this.log = logger.child({ component: 'amqp-consumer', backend: backendId, queue: config.queue });
  }

  /** Connects in the background; resolves at once. */
  start(): void {
    this.stopped = false;
    this.running = this.connectLoop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.setState('stopped');
    await this.running;
    const connection = this.connection;
    this.connection = undefined;
    this.channel = undefined;
    // Let the batch in hand finish and be acknowledged before the channel closes.
    await this.flushing;
    await connection?.close().catch(() => undefined);
  }

  private setState(state: ConsumerState, error?: Error): void {
    if (state !== this.state) this.since = Date.now();
    this.state = state;
    if (error) this.lastError = redactText(error.message);
  }

  private async connectLoop(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.connectOnce();
        this.failedAttempts = 0;
        return;
      } catch (err) {
        this.failedAttempts += 1;
        await this.connection?.close().catch(() => undefined);
        this.connection = undefined;
        if (this.stopped) return;
        this.setState('reconnecting', err as Error);
        const base = this.options.reconnectBaseMs ?? 500;
        const delayMs = Math.min(this.options.reconnectMaxMs ?? 30_000, base * 2 ** Math.min(this.failedAttempts - 1, 16));
        const jittered = Math.round(delayMs * (0.8 + Math.random() * 0.4));
        this.log.warn('cannot consume notifications; retrying', { url: this.safeUrl, error: this.lastError, attempt: this.failedAttempts, retryInMs: jittered });
        await new Promise<void>((resolve) => (this.retryTimer = setTimeout(resolve, jittered)));
      }
    }
  }

  private async connectOnce(): Promise<void> {
    this.setState(this.failedAttempts > 0 ? 'reconnecting' : 'connecting');
    const connection = await amqp.connect(withHeartbeat(this.config.url), {
      timeout: 10_000,
      clientProperties: { connection_name: `heat-gateway ${this.backendId} (pid ${process.pid})` },
    });
    this.connection = connection;
    connection.on('error', (err: Error) => this.log.warn('AMQP connection error', { error: redactText(err.message) }));
    connection.on('close', () => this.onClosed(connection));
    await this.declare(connection);
    const channel = await connection.createChannel();
    channel.on('error', (err: Error) => this.log.warn('AMQP channel error', { error: redactText(err.message) }));
    // A closed channel (not the connection) would leave us consuming nothing: start over.
    channel.on('close', () => {
      if (this.channel === channel && !this.stopped) void connection.close().catch(() => undefined);
    });
    await channel.prefetch(this.config.prefetch);
    this.channel = channel;
    await channel.consume(this.config.queue, (message) => this.onMessage(channel, message), { noAck: false });
    if (this.stopped) return;
    this.setState('consuming');
    this.lastError = null;
    this.log.info('consuming notifications', { url: this.safeUrl, exchanges: this.config.exchanges, topics: this.config.topics });
  }

  /**
   * The exchanges as oslo.messaging declares them (topic, not durable unless
   * amqp_durable_queues); one declared differently is used as it is. Then our queue and
   * its bindings.
   */
  private async declare(connection: ChannelModel): Promise<void> {
    for (const exchange of this.config.exchanges) {
      const probe = await connection.createChannel();
      probe.on('error', () => undefined);
      try {
        await probe.assertExchange(exchange, 'topic', { durable: false });
        await probe.close();
      } catch {
        // 406 PRECONDITION_FAILED closed the channel: it exists with other flags. Fine.
        const check = await connection.createChannel();
        await check.checkExchange(exchange);
        await check.close();
      }
    }
    const channel = await connection.createChannel();
    await channel.assertQueue(this.config.queue, { durable: true });
    for (const exchange of this.config.exchanges) {
      for (const topic of this.config.topics) await channel.bindQueue(this.config.queue, exchange, topic);
    }
    await channel.close();
  }

  private onClosed(connection: ChannelModel): void {
    if (this.connection !== connection || this.stopped) return;
    this.connection = undefined;
    this.channel = undefined;
    this.depth = undefined;
    this.setState('reconnecting', new Error('the connection to RabbitMQ closed'));
    this.log.warn('AMQP connection closed; reconnecting', { url: this.safeUrl });
    this.running = this.connectLoop();
  }

  private onMessage(channel: Channel, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled our consumer (queue deleted): declare and consume again.
      this.log.warn('the broker cancelled the consumer; reconnecting');
      void this.connection?.close().catch(() => undefined);
      return;
    }
    this.buffer.push({ message, channel });
    this.kick();
  }

  private kick(): void {
    if (this.flushing) return;
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined;
      if (this.buffer.length > 0) this.kick();
    });
  }

  /** Everything buffered, in one apply; acknowledged only after it is stored. */
  private async flush(): Promise<void> {
    const batch = this.buffer.splice(0, this.buffer.length);
    const updates: U[] = [];
    const ready: Delivery[] = [];
    for (const delivery of batch) {
      try {
        updates.push(...this.handlers.parse(JSON.parse(delivery.message.content.toString('utf8'))));
        ready.push(delivery);
      } catch (err) {
        const reason = err instanceof InputError ? err.message : 'the body is not JSON';
        this.log.warn('dropping a message that is not a notification', { reason, routingKey: delivery.message.fields.routingKey });
        this.counters.rejected += 1;
        settle(delivery, 'ack');
      }
    }
    if (ready.length === 0) return;
    try {
      await this.handlers.apply(updates);
    } catch (err) {
      this.log.warn('could not store notifications; requeueing them', { error: (err as Error).message, messages: ready.length });
      await new Promise((resolve) => setTimeout(resolve, this.options.requeueDelayMs ?? 1_000));
      for (const delivery of ready) settle(delivery, 'requeue');
      this.counters.requeued += ready.length;
      return;
    }
    for (const delivery of ready) settle(delivery, 'ack');
    this.counters.acknowledged += ready.length;
  }

  /** State, counters and the queue's depth (asked of the broker at most once a second). */
  async status(): Promise<AmqpConsumerStatus> {
    const depth = await this.queueDepth();
    return {
      backendId: this.backendId,
      url: this.safeUrl,
      queue: this.config.queue,
      state: this.state,
      since: new Date(this.since).toISOString(),
      lastError: this.lastError,
      failedAttempts: this.failedAttempts,
      ...this.counters,
      queueDepth: depth?.messageCount ?? null,
      consumers: depth?.consumerCount ?? null,
    };
  }

  get consuming(): boolean {
    return this.state === 'consuming';
  }

  private async queueDepth(): Promise<{ messageCount: number; consumerCount: number } | null> {
    const now = Date.now();
    if (this.depth && now - this.depth.at < 1_000 && this.state === 'consuming') return this.depth.value;
    let value: { messageCount: number; consumerCount: number } | null = null;
    const connection = this.connection;
    if (connection && this.state === 'consuming') {
      // A channel of its own: a failed check closes only this one.
      const channel = await connection.createChannel().catch(() => undefined);
      if (channel) {
        channel.on('error', () => undefined);
        value = await channel.checkQueue(this.config.queue).catch(() => null);
        await channel.close().catch(() => undefined);
      }
    }
    // Only a broker's answer is worth keeping; "not connected" is re-checked every time.
    this.depth = value ? { at: now, value } : undefined;
    return value;
  }
}

/** Acks or requeues on the channel the message came from; a closed channel means RabbitMQ redelivers. */
function settle(delivery: Delivery, how: 'ack' | 'requeue'): void {
  try {
    if (how === 'ack') delivery.channel.ack(delivery.message);
    else delivery.channel.nack(delivery.message, false, true);
  } catch {
    // The channel closed under us: the broker requeues unacknowledged messages itself.
  }
}
