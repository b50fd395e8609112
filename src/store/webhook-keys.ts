/**
 * Redis key layout of the webhook module. Every key starts with the gateway prefix (a hash
 * tag such as `{hgw}:`), so they share the feed's Redis Cluster slot and Lua scripts may
 * touch any of them.
 *
 * | key                          | type   | holds                                                 |
 * |------------------------------|--------|-------------------------------------------------------|
 * | wh:idx                       | zset   | endpoint ids (lex paging)                             |
 * | wh:ver                       | string | bumped on every registry change (fan-out reloads)     |
 * | wh:lead                      | string | fan-out leader lease (consumer name, PX)              |
 * | wh:e:<id>                    | string | endpoint JSON (with secrets)                          |
 * | wh:e:<id>:h                  | hash   | health: failingSince, lastSuccessAt, attempt-log seq  |
 * | wh:e:<id>:d:<eventId>        | hash   | one delivery (event → endpoint): status, owner, cursor |
 * | wh:e:<id>:b:<eventId>        | string | its body for a job (kept if not in the feed)          |
 * | wh:e:<id>:dx                 | zset   | delivery ids by creation time                         |
 * | wh:e:<id>:dead               | zset   | dead-lettered delivery ids by time                    |
 * | wh:e:<id>:log                | zset   | attempt log (score = seq), bounded                    |
 * | wh:e:<id>:o:<subject>        | list   | ordered endpoints: pending deliveries of one subject  |
 * | wh:e:<id>:os                 | set    | subjects with a non-empty ordered list                |
 * | wh:e:<id>:rl                 | zset   | maxPerSecond sliding window (send times)              |
 * | bull:webhooks:*              | bullmq | the delivery queue                                    |
 *
 * The feed stream (`feed`) carries the consumer group `webhooks`.
 */
export class WebhookKeys {
  constructor(readonly prefix: string) {}

  get index(): string {
    return `${this.prefix}wh:idx`;
  }
  get version(): string {
    return `${this.prefix}wh:ver`;
  }
  get leader(): string {
    return `${this.prefix}wh:lead`;
  }
  endpoint(id: string): string {
    return `${this.prefix}wh:e:${id}`;
  }
  health(id: string): string {
    return `${this.endpoint(id)}:h`;
  }
  /** {@link health} around the id, for a script that visits every endpoint of the index. */
  get healthAroundId(): { before: string; after: string } {
    return { before: this.endpoint(''), after: ':h' };
  }
  /** Prefix of an endpoint's delivery records; append the delivery id. */
  deliveryPrefix(id: string): string {
    return `${this.endpoint(id)}:d:`;
  }
  delivery(id: string, deliveryId: string): string {
    return `${this.deliveryPrefix(id)}${deliveryId}`;
  }
  /**
   * A delivery's body, apart from its record, for a job to send: never written for the
   * fan-out's own attempt unless it fails, dropped once delivered when the feed holds the event.
   */
  body(id: string, deliveryId: string): string {
    return `${this.endpoint(id)}:b:${deliveryId}`;
  }
  deliveries(id: string): string {
    return `${this.endpoint(id)}:dx`;
  }
  dead(id: string): string {
    return `${this.endpoint(id)}:dead`;
  }
  log(id: string): string {
    return `${this.endpoint(id)}:log`;
  }
  ordered(id: string, subject: string): string {
    return `${this.endpoint(id)}:o:${subject}`;
  }
  orderedSubjects(id: string): string {
    return `${this.endpoint(id)}:os`;
  }
  rate(id: string): string {
    return `${this.endpoint(id)}:rl`;
  }
  /** BullMQ prefix: inside the hash tag, so queue keys share the slot. */
  get bull(): string {
    return `${this.prefix}bull`;
  }
}
