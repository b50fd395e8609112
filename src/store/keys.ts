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
 * | s:<state>              | zset   | instance ids in a state                         |
 * | b:<backend>:i / :d     | zset   | instance / deployment ids seen from a backend   |
 * | feed                   | stream | the change feed                                 |
 * | tomb                   | zset   | tombstones (`i:<id>`, `d:<id>`) by deletion ms  |
 * | refresh-failures       | hash   | scope (`b:<backend>`, `d:<id>`) → last failure  |
 */
export class Keys {
  constructor(readonly prefix: string) {}

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
  state(state: string): string {
    return `${this.prefix}s:${state}`;
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
  /** Any other key of this gateway (queues, webhooks, strategy state). */
  other(name: string): string {
    return `${this.prefix}${name}`;
  }
}
