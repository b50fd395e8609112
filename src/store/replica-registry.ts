/**
 * Which gateway replicas are alive: each replica beats every few seconds, writing a small
 * JSON card (host, pid, version, what it runs, its recent backend activity) with a TTL and
 * its beat time in one sorted set. A replica that stops beating drops out after `aliveMs`;
 * a clean stop removes itself at once.
 *
 * | key               | type   | holds                                  |
 * |-------------------|--------|----------------------------------------|
 * | replicas          | zset   | replica id → time of its last beat (ms) |
 * | replica:<id>      | string | the replica's card (JSON), with a TTL  |
 */
import type { Redis } from 'ioredis';
import { Keys } from './keys.js';

/** How long a silent replica still counts as alive, unless configured otherwise. */
export const REPLICA_ALIVE_MS = 10_000;

/** What one replica says about itself at each beat. Free-form beyond `id`. */
export interface ReplicaCard {
  id: string;
}

export interface AliveReplica<C extends ReplicaCard = ReplicaCard> {
  card: C;
  /** Time of the last beat (ms, the beating replica's clock). */
  beatAtMs: number;
}

export class ReplicaRegistry {
  private readonly keys: Keys;

  /**
   * @param aliveMs a replica is alive while its last beat is younger than this
   */
  constructor(
    private readonly redis: Redis,
    prefix: string,
    readonly aliveMs: number,
  ) {
    this.keys = new Keys(prefix);
  }

  private get index(): string {
    return this.keys.replicas;
  }

  private card(id: string): string {
    return this.keys.replicaCard(id);
  }

  /** Records a beat; also forgets replicas silent for ten lifetimes (crashed long ago). */
  async beat(card: ReplicaCard, nowMs: number): Promise<void> {
    await this.redis
      .multi()
      .set(this.card(card.id), JSON.stringify(card), 'PX', this.aliveMs)
      .zadd(this.index, nowMs, card.id)
      .zremrangebyscore(this.index, '-inf', nowMs - 10 * this.aliveMs)
      .exec();
  }

  /** Removes a replica that stops cleanly, so it is not shown as alive until it times out. */
  async leave(id: string): Promise<void> {
    await this.redis.multi().del(this.card(id)).zrem(this.index, id).exec();
  }

  /** Replicas that beat within `aliveMs` of `nowMs`, oldest beat first. */
  async alive<C extends ReplicaCard = ReplicaCard>(nowMs: number): Promise<AliveReplica<C>[]> {
    const flat = await this.redis.zrangebyscore(this.index, nowMs - this.aliveMs, '+inf', 'WITHSCORES');
    if (flat.length === 0) return [];
    const ids: string[] = [];
    const beats: number[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      ids.push(flat[i]!);
      beats.push(Number(flat[i + 1]));
    }
    const cards = await this.redis.mget(...ids.map((id) => this.card(id)));
    const out: AliveReplica<C>[] = [];
    cards.forEach((json, i) => {
      // A card that expired between the two reads belongs to a replica that just went away.
      if (json) out.push({ card: JSON.parse(json) as C, beatAtMs: beats[i]! });
    });
    return out;
  }
}
