/**
 * Real Redis Sentinel and Redis Cluster deployments for the HA tests: every server is a
 * child process on a free loopback port with its data (AOF on) in a temp dir, stopped by PID.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../src/redis/local-redis-server.js';
import { waitFor } from './redis.js';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** One redis-server (or sentinel) child process. */
export class RedisNode {
  private child: ChildProcess | undefined;
  constructor(
    readonly port: number,
    private readonly args: string[],
    private readonly binary = 'redis-server',
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    const child = spawn(this.binary, this.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    this.child = child;
    live.add(child);
    child.once('exit', () => live.delete(child));
    child.once('error', () => {});
    await waitFor(() => this.ping(), { timeoutMs: 10_000, what: `${this.binary} on ${this.port} ${stderr}` });
  }

  /** Runs one command on this node with a short-lived client. */
  async command(...args: (string | number)[]): Promise<unknown> {
    const client = new Redis(this.port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
    client.on('error', () => {});
    try {
      await client.connect();
      return await client.call(String(args[0]), ...args.slice(1).map(String));
    } finally {
      client.disconnect();
    }
  }

  private async ping(): Promise<boolean> {
    return (await this.command('PING').catch(() => '')) === 'PONG';
  }

  /** SIGKILL: the process dies as a crashed host would. */
  kill(): Promise<void> {
    return this.stop('SIGKILL');
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }
}

const dataArgs = (dir: string, port: number) => [
  '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
  // Every acknowledged write is in the AOF before the reply.
  '--appendonly', 'yes', '--appendfsync', 'always', '--loglevel', 'warning',
  // A replica (re)syncs at once instead of after the default 5 s diskless-sync delay.
  '--repl-diskless-sync-delay', '0',
];

/** A primary, one replica and three sentinels monitoring them as `name`. */
export class SentinelGroup {
  private constructor(
    readonly dir: string,
    readonly name: string,
    readonly primary: RedisNode,
    readonly replica: RedisNode,
    readonly sentinels: RedisNode[],
  ) {}

  static async start(name = 'hgw'): Promise<SentinelGroup> {
    const dir = mkdtempSync(join(tmpdir(), 'hgw-sentinel-'));
    const [p0, p1] = [await freePort(), await freePort()];
    const primary = new RedisNode(p0, [...dataArgs(mkdir(dir, 'primary'), p0)]);
    const replica = new RedisNode(p1, [...dataArgs(mkdir(dir, 'replica'), p1), '--replicaof', '127.0.0.1', String(p0)]);
    await primary.start();
    await replica.start();
    const sentinels: RedisNode[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const file = join(mkdir(dir, `sentinel-${i}`), 'sentinel.conf');
      writeFileSync(
        file,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${join(dir, `sentinel-${i}`)}`,
          `sentinel monitor ${name} 127.0.0.1 ${p0} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 2000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      sentinels.push(new RedisNode(port, [file], 'redis-sentinel'));
    }
    for (const s of sentinels) await s.start();
    const group = new SentinelGroup(dir, name, primary, replica, sentinels);
    // A failover needs every sentinel to know the replica and a quorum of its peers.
    await waitFor(
      async () => {
        for (const s of sentinels) {
          const replicas = (await s.command('SENTINEL', 'REPLICAS', name)) as unknown[];
          const peers = (await s.command('SENTINEL', 'SENTINELS', name)) as unknown[];
          if (replicas.length < 1 || peers.length < 2) return false;
        }
        return ((await replica.command('INFO', 'replication')) as string).includes('master_link_status:up');
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'sentinels to discover the replica and each other' },
    );
    return group;
  }

  get sentinelUrls(): string[] {
    return this.sentinels.map((s) => s.url);
  }

  /** The port Sentinel currently names as primary. */
  async primaryPort(): Promise<number> {
    const [, port] = (await this.sentinels[0]!.command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name)) as [string, string];
    return Number(port);
  }

  /**
   * A planned switchover, the way docs/operations.md tells operators to do one: pause writes
   * on the primary, let the replica catch up, SENTINEL FAILOVER, wait until every sentinel
   * names the replica, unpause. Writes that waited in the pause reach the old primary as a
   * replica, get READONLY, and the gateway's client resends them to the new one. (Sentinel's
   * promotion alone is asynchronous: writes acknowledged between the promotion and the
   * clients' switch would be discarded.)
   */
  async failover(): Promise<number> {
    const before = await this.primaryPort();
    const old = [this.primary, this.replica].find((n) => n.port === before)!;
    const next = old === this.primary ? this.replica : this.primary;
    await old.command('CLIENT', 'PAUSE', 10_000, 'WRITE');
    const offset = (info: string) => Number(/master_repl_offset:(\d+)/.exec(info)?.[1] ?? -1);
    const target = offset((await old.command('INFO', 'replication')) as string);
    await waitFor(async () => offset((await next.command('INFO', 'replication')) as string) >= target, {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: 'the replica to catch up before the switchover',
    });
    await this.sentinels[0]!.command('SENTINEL', 'FAILOVER', this.name);
    const promoted = await waitFor(
      async () => {
        const ports = await Promise.all(
          this.sentinels.map(async (s) => Number(((await s.command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name)) as string[])[1])),
        );
        return ports.every((p) => p !== before && p === ports[0]) ? ports[0]! : 0;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'Sentinel to promote the replica' },
    );
    await old.command('CLIENT', 'UNPAUSE');
    return promoted;
  }

  async stop(): Promise<void> {
    for (const node of [...this.sentinels, this.replica, this.primary]) await node.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Three primaries, each with one replica, joined by `redis-cli --cluster create`. */
export class RedisCluster {
  private constructor(
    readonly dir: string,
    readonly nodes: RedisNode[],
  ) {}

  static async start(): Promise<RedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'hgw-cluster-'));
    const nodes: RedisNode[] = [];
    for (let i = 0; i < 6; i++) {
      const port = await freePort();
      const nodeDir = mkdir(dir, `node-${port}`);
      nodes.push(
        new RedisNode(port, [
          ...dataArgs(nodeDir, port),
          '--cluster-enabled', 'yes',
          '--cluster-config-file', join(nodeDir, 'nodes.conf'),
          // A killed primary is replaced after about this long.
          '--cluster-node-timeout', '1500',
        ]),
      );
    }
    await Promise.all(nodes.map((n) => n.start()));
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    const cluster = new RedisCluster(dir, nodes);
    await cluster.waitHealthy();
    return cluster;
  }

  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  /** Every live node says cluster_state:ok and the three primaries each have a replica. */
  async waitHealthy(): Promise<void> {
    await waitFor(
      async () => {
        for (const node of this.nodes.filter((n) => n.running)) {
          const info = (await node.command('CLUSTER', 'INFO')) as string;
          if (!info.includes('cluster_state:ok')) return false;
        }
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'the cluster to be ok on every node' },
    );
  }

  /** The node that serves `key`'s slot as primary, and its replica (none once it died). */
  async ownerOf(key: string): Promise<{ primary: RedisNode; replica: RedisNode | undefined }> {
    const live = this.nodes.find((n) => n.running)!;
    const slot = Number(await live.command('CLUSTER', 'KEYSLOT', key));
    const lines = ((await live.command('CLUSTER', 'NODES')) as string).trim().split('\n').map((l) => l.split(' '));
    const byPort = (addr: string) => this.nodes.find((n) => addr.startsWith(`127.0.0.1:${n.port}@`))!;
    const owner = lines.find(
      (f) => f[2]!.includes('master') && !f[2]!.includes('fail') && f.slice(8).some((r) => {
        const [a, b] = r.split('-').map(Number);
        return slot >= a! && slot <= (b ?? a)!;
      }),
    )!;
    const replica = lines.find((f) => f[3] === owner[0] && !f[2]!.includes('fail'));
    return { primary: byPort(owner[1]!), replica: replica && byPort(replica[1]!) };
  }

  /** CLUSTER FAILOVER on `key`'s replica (coordinated: the replica catches up first). */
  async failover(key: string): Promise<RedisNode> {
    const { replica } = await this.ownerOf(key);
    if (!replica) throw new Error(`no live replica serves ${key}`);
    await replica.command('CLUSTER', 'FAILOVER');
    await waitFor(async () => (await this.ownerOf(key)).primary === replica, { timeoutMs: 30_000, intervalMs: 100, what: 'the replica to take over' });
    return replica;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function mkdir(root: string, name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}
