/**
 * Which Redis the gateway talks to (DESIGN §10): one node, a Sentinel-managed primary, or a
 * Redis Cluster, and how to open an ioredis client for each. Callers see one `Redis`-shaped
 * client whatever the topology: every key shares the prefix hash tag, so on a Cluster every
 * command, Lua script, MULTI and BullMQ script lands on the one slot that tag names.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/redis-schema.js';

export type RedisTopology =
  | { kind: 'single'; url: string }
  | { kind: 'sentinel'; sentinels: URL[]; name: string; username?: string; password?: string }
  | { kind: 'cluster'; nodes: URL[] };

export type RedisTopologyConfig = Pick<RedisConfig, 'url' | 'sentinels' | 'sentinelName' | 'cluster' | 'username' | 'password'>;

export function topologyOf(config: RedisTopologyConfig): RedisTopology {
  if (config.cluster) return { kind: 'cluster', nodes: config.cluster.map((u) => new URL(u)) };
  if (config.sentinels) {
    return {
      kind: 'sentinel',
      sentinels: config.sentinels.map((u) => new URL(u)),
      name: config.sentinelName ?? 'mymaster',
      ...(config.username ? { username: config.username } : {}),
      ...(config.password ? { password: config.password } : {}),
    };
  }
  return { kind: 'single', url: config.url };
}

const address = (u: URL) => `${u.hostname}:${u.port || '6379'}`;

/** One line for the start-up log: where the gateway looks for Redis (never with a password). */
export function describeTopology(topology: RedisTopology): string {
  switch (topology.kind) {
    case 'single':
      return `single node ${address(new URL(topology.url))}`;
    case 'sentinel':
      return `Sentinel primary '${topology.name}' via ${topology.sentinels.map(address).join(', ')}`;
    case 'cluster':
      return `Cluster seeded by ${topology.nodes.map(address).join(', ')}`;
  }
}

const hostPort = (u: URL) => ({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 6379) });
const credentials = (u: URL) => ({
  ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
  ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
});

/**
 * After a Sentinel failover the old primary comes back as a replica and refuses writes with
 * READONLY; reconnecting (ioredis asks Sentinel again) and resending reaches the new primary.
 */
const reconnectOnReadOnly = (err: Error): 2 | false => (err.message.startsWith('READONLY') ? 2 : false);

/** Opens an ioredis client for `topology` with the per-connection options `base`. */
export function openRedis(topology: RedisTopology, base: RedisOptions): Redis {
  switch (topology.kind) {
    case 'single':
      return new Redis(topology.url, { ...base, reconnectOnError: reconnectOnReadOnly });
    case 'sentinel': {
      const first = topology.sentinels[0]!;
      const sentinelAuth = credentials(first);
      return new Redis({
        ...base,
        sentinels: topology.sentinels.map(hostPort),
        name: topology.name,
        role: 'master',
        ...(topology.username ? { username: topology.username } : {}),
        ...(topology.password ? { password: topology.password } : {}),
        ...(sentinelAuth.username ? { sentinelUsername: sentinelAuth.username } : {}),
        ...(sentinelAuth.password ? { sentinelPassword: sentinelAuth.password } : {}),
        ...(first.protocol === 'rediss:' ? { enableTLSForSentinelMode: true, tls: {}, sentinelTLS: {} } : {}),
        // +switch-master from any sentinel moves the connection at once instead of waiting
        // for the old primary's socket to fail.
        failoverDetector: true,
        sentinelRetryStrategy: (times: number) => Math.min(100 * times, 1_000),
        reconnectOnError: reconnectOnReadOnly,
      });
    }
    case 'cluster': {
      const { retryStrategy, enableOfflineQueue, lazyConnect, enableAutoPipelining, autoPipeliningIgnoredCommands, ...nodeOptions } = base;
      const first = topology.nodes[0]!;
      const options: ClusterOptions = {
        redisOptions: { ...nodeOptions, ...credentials(first), ...(first.protocol === 'rediss:' ? { tls: {} } : {}) },
        clusterRetryStrategy: retryStrategy ?? null,
        ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
        ...(lazyConnect !== undefined ? { lazyConnect } : {}),
        ...(enableAutoPipelining !== undefined ? { enableAutoPipelining } : {}),
        ...(autoPipeliningIgnoredCommands ? { autoPipeliningIgnoredCommands } : {}),
        // Reads and writes go to primaries: a replica may lag, and the store's scripts write.
        scaleReads: 'master',
        // While a replica is promoted the slot answers CLUSTERDOWN or its old owner is gone;
        // retrying a few times at this pace rides through a failover of a few seconds.
        retryDelayOnFailover: 200,
        retryDelayOnClusterDown: 200,
        retryDelayOnTryAgain: 200,
        slotsRefreshTimeout: 2_000,
      };
      // Cluster exposes the same command surface as Redis for keys in one slot (ours all are).
      return new Cluster(topology.nodes.map(hostPort), options) as unknown as Redis;
    }
  }
}

/** True for a client opened on a Cluster (it has no single-node SCAN, for one). */
export function isCluster(client: Redis): boolean {
  return (client as unknown as { isCluster?: boolean }).isCluster === true;
}
