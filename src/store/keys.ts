/**
 * The Redis key layout. Every key starts with the configured prefix, a hash tag such as
 * `{hgw}:`, so all of them live in one Redis Cluster slot and Lua scripts may touch any.
 *
 * | key                    | type   | holds                                           |
 * |------------------------|--------|-------------------------------------------------|
 * | i:<id>                 | hash   | one instance (served JSON `j` + bookkeeping)    |
 * | d:<id>                 | hash   | one deployment                                  |
 * | idx:i, idx:d           | zset   | all instance / deployment ids (lex paging)      |
 * | d:<id>:i               | zset   | instance ids of a deployment                    |
 * | st:i                   | zset   | instance ids scored by state (lua/state-index)  |
 * | b:<backend>:i / :d     | zset   | instance / deployment ids seen from a backend   |
 * | feed                   | stream | the change feed (consumer group `webhooks`);    |
 * |                        |        | entry fields: lua/feed.ts                       |
 * | tomb                   | zset   | tombstones (`i:<id>`, `d:<id>`) by deletion ms  |
 * | layout                 | string | store layout the keys were moved to             |
 * | refresh-failures       | hash   | scope (`b:<backend>`, `d:<id>`) → last failure  |
 * | strategy               | hash   | strategy in force (default and per backend)     |
 * | strategy-changes       | pubsub | channel announcing a switch to every replica    |
 * | due:<set>              | zset   | strategy targets by next due time (ms)          |
 * | rl:<token name>        | hash   | per-token rate-limit bucket                     |
 * | replicas               | zset   | replica id → time of its last beat (ms)         |
 * | replica:<id>           | string | a replica's status card (JSON, with a TTL)      |
 * | bull:*                 | bullmq | the strategy and delivery queues                |
 * | wh:*                   | …      | webhook registry and delivery log ({@link WebhookKeys}) |
 */
import { WebhookKeys } from './webhook-keys.js';

export class Keys {
  /** The webhook registry's and delivery log's keys. */
  readonly webhooks: WebhookKeys;

  constructor(readonly prefix: string) {
    this.webhooks = new WebhookKeys(prefix);
  }

  instance(id: string): string {
    return `${this.prefix}i:${id}`;
  }
  deployment(id: string): string {
    return `${this.prefix}d:${id}`;
  }
  get allInstances(): string {
    return `${this.prefix}idx:i`;
  }
  get allDeployments(): string {
    return `${this.prefix}idx:d`;
  }
  deploymentInstances(deploymentId: string): string {
    return `${this.prefix}d:${deploymentId}:i`;
  }
  /** The state index: every instance id, scored by its state (lua/state-index.ts). */
  get instanceStates(): string {
    return `${this.prefix}st:i`;
  }
  backendInstances(backendId: string): string {
    return `${this.prefix}b:${backendId}:i`;
  }
  backendDeployments(backendId: string): string {
    return `${this.prefix}b:${backendId}:d`;
  }
  get feed(): string {
    return `${this.prefix}feed`;
  }
  /** The store layout the keys have been moved to (store-layout.ts); absent before layout 4. */
  get storeLayout(): string {
    return `${this.prefix}layout`;
  }
  /** Tombstones (`i:<id>`, `d:<id>`) by deletion time. */
  get tombstones(): string {
    return `${this.prefix}tomb`;
  }
  /** Last refresh failure by scope (`b:<backend>`, `d:<deployment>`). */
  get refreshFailures(): string {
    return `${this.prefix}refresh-failures`;
  }
  /** The strategy in force: `name`, `since`, `by`, `configName` (suffixed `:<backend>` per backend). */
  get strategyState(): string {
    return `${this.prefix}strategy`;
  }
  /** Pub/sub channel on which a switch is announced. */
  get strategyChannel(): string {
    return `${this.prefix}strategy-changes`;
  }
  /** One strategy due set (`cached-poll:heat-1`, `webhook`, …). */
  due(set: string): string {
    return `${this.prefix}due:${set}`;
  }
  /** Rate-limit bucket of one token (by its name). */
  rateLimit(tokenName: string): string {
    return `${this.prefix}rl:${tokenName}`;
  }
  /** Replicas by the time of their last beat. */
  get replicas(): string {
    return `${this.prefix}replicas`;
  }
  /** One replica's status card. */
  replicaCard(id: string): string {
    return `${this.prefix}replica:${id}`;
  }
  /** BullMQ prefix: inside the hash tag, so queue keys share the slot. */
  get bull(): string {
    return `${this.prefix}bull`;
  }
}
