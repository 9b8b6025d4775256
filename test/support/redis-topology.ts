import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../reliability/support.js';
import { waitFor } from './redis.js';

/**
 * Real Redis topologies for the scale-out tests, started from the `redis-server` binary (Sentinel
 * is `redis-server --sentinel`, which is what the `redis-sentinel` name links to, so a system
 * without that link still runs them). Every process and directory is removed by `stop()`.
 */

interface Child {
  port: number;
  process: ChildProcess;
}

function startServer(dir: string, port: number, args: string[]): Child {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--save', '', ...args], { stdio: 'ignore' });
  return { port, process: child };
}

/** One command on a fresh connection (no retries, nothing kept open). */
export async function redisCommand(port: number, command: string, ...args: (string | number)[]): Promise<unknown> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await client.call(command, ...args);
  } finally {
    client.disconnect();
  }
}

async function answers(port: number): Promise<boolean> {
  return redisCommand(port, 'PING').then(
    () => true,
    () => false,
  );
}

async function stopChildren(children: Child[], dir: string): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.process.exitCode !== null || c.process.signalCode !== null) return resolve();
          c.process.once('exit', () => resolve());
          c.process.kill('SIGKILL');
        }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
}

export interface RedisClusterChild {
  ports: number[];
  /** REDIS_CLUSTER_NODES for the bridge. */
  nodes: string;
  stop(): Promise<void>;
}

/** Three masters, slots split evenly (`redis-cli --cluster create`), no replicas. */
export async function startRedisCluster(): Promise<RedisClusterChild> {
  const dir = mkdtempSync(join(tmpdir(), 'cgb-cluster-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const children = ports.map((port) =>
    startServer(dir, port, ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--appendonly', 'yes', '--appendfilename', `aof-${port}.aof`, '--appenddirname', `aof-${port}`]),
  );
  try {
    for (const port of ports) await waitFor(async () => ((await answers(port)) ? true : undefined), `cluster node ${port}`, 200, 50);
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    for (const port of ports) {
      await waitFor(
        async () => (String(await redisCommand(port, 'CLUSTER', 'INFO').catch(() => '')).includes('cluster_state:ok') ? true : undefined),
        `cluster_state:ok on ${port}`,
        400,
        50,
      );
    }
  } catch (err) {
    await stopChildren(children, dir);
    throw err;
  }
  return { ports, nodes: ports.map((p) => `127.0.0.1:${p}`).join(','), stop: () => stopChildren(children, dir) };
}

export interface RedisSentinelChild {
  masterName: string;
  /** REDIS_SENTINELS for the bridge. */
  sentinels: string;
  sentinelPorts: number[];
  /** Port of the node the sentinels currently name master. */
  masterPort(): Promise<number>;
  /** SENTINEL FAILOVER, then waits until the sentinels name the other node and it accepts writes. */
  failover(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A master, one replica and three sentinels (quorum 2). Both data nodes run with
 * `min-replicas-to-write 1`: a master that lost its replica (demoted by a failover the bridge has
 * not noticed yet) refuses writes instead of acknowledging what the new master will never see;
 * the bridge then spools them to disk. AOF with `appendfsync always`, as in the outage test.
 */
export async function startRedisSentinel(masterName = 'cgbmaster'): Promise<RedisSentinelChild> {
  const dir = mkdtempSync(join(tmpdir(), 'cgb-sentinel-'));
  const [masterPort, replicaPort] = [await freePort(), await freePort()];
  const data = ['--appendonly', 'yes', '--appendfsync', 'always', '--min-replicas-to-write', '1', '--min-replicas-max-lag', '10'];
  const children: Child[] = [
    startServer(dir, masterPort, [...data, '--appendfilename', `aof-${masterPort}.aof`, '--appenddirname', `aof-${masterPort}`]),
    startServer(dir, replicaPort, [...data, '--appendfilename', `aof-${replicaPort}.aof`, '--appenddirname', `aof-${replicaPort}`, '--replicaof', '127.0.0.1', String(masterPort)]),
  ];
  const sentinelPorts = [await freePort(), await freePort(), await freePort()];
  try {
    for (const port of [masterPort, replicaPort]) await waitFor(async () => ((await answers(port)) ? true : undefined), `redis ${port}`, 200, 50);
    await waitFor(
      async () => (String(await redisCommand(replicaPort, 'INFO', 'replication').catch(() => '')).includes('master_link_status:up') ? true : undefined),
      'the replica to sync',
      400,
      50,
    );
    for (const port of sentinelPorts) {
      const conf = join(dir, `sentinel-${port}.conf`);
      // Sentinel rewrites its own file (it records the replicas and the other sentinels it finds).
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 2`,
          `sentinel down-after-milliseconds ${masterName} 1000`,
          `sentinel failover-timeout ${masterName} 10000`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      children.push({ port, process: spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }) });
    }
    for (const port of sentinelPorts) {
      // Ready once each sentinel knows the replica (a failover needs a replica to promote).
      await waitFor(
        async () => {
          const replicas = (await redisCommand(port, 'SENTINEL', 'REPLICAS', masterName).catch(() => [])) as unknown[];
          return replicas.length > 0 ? true : undefined;
        },
        `sentinel ${port} to see the replica`,
        600,
        50,
      );
    }
  } catch (err) {
    await stopChildren(children, dir);
    throw err;
  }

  const sentinelPort = sentinelPorts[0] as number;
  const masterPortNow = async () => {
    const [, port] = (await redisCommand(sentinelPort, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as [string, string];
    return Number(port);
  };
  return {
    masterName,
    sentinels: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
    sentinelPorts,
    masterPort: masterPortNow,
    async failover() {
      const before = await masterPortNow();
      await redisCommand(sentinelPort, 'SENTINEL', 'FAILOVER', masterName);
      const after = await waitFor(async () => {
        const now = await masterPortNow().catch(() => before);
        return now !== before ? now : undefined;
      }, 'the sentinels to name a new master', 600, 50);
      // The old master comes back as a replica of the new one; until then the new master has no
      // replica and (min-replicas-to-write 1) refuses writes.
      await waitFor(
        async () => (String(await redisCommand(after, 'INFO', 'replication').catch(() => '')).match(/connected_slaves:[1-9]/) ? true : undefined),
        'the old master to follow the new one',
        1_200,
        50,
      );
      return after;
    },
    stop: () => stopChildren(children, dir),
  };
}
