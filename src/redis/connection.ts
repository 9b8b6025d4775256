import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { DEFAULTS } from '../config/defaults.js';
import type { RedisTopology } from '../config/schema.js';

/**
 * Three kinds of connection, because they must fail differently:
 * - `producer`: the HTTP path. Fails fast when Redis is away (no offline queue, one retry) so the
 *   receiver can spool to disk and still answer Chatwoot within its 5 s timeout.
 * - `worker`: BullMQ workers block on Redis and must never give up (`maxRetriesPerRequest: null`).
 * - `command`: short commands from the CLI and the worker's own state (mappings, locks).
 */
type RedisRole = 'producer' | 'worker' | 'command';

/** What every module receives: one Redis (single or behind Sentinel) or a Redis Cluster client. */
export type RedisConnection = Redis | Cluster;

/** Where to connect: a REDIS_URL (single Redis) or the whole topology from the configuration. */
export type RedisTarget = string | RedisTopology;

const byRole: Record<RedisRole, RedisOptions> = {
  producer: {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: DEFAULTS.redisConnection.producerConnectTimeoutMs,
    commandTimeout: DEFAULTS.redisConnection.producerCommandTimeoutMs,
  },
  worker: { maxRetriesPerRequest: null },
  command: { maxRetriesPerRequest: 3, connectTimeout: DEFAULTS.redisConnection.commandConnectTimeoutMs },
};

/** Reconnect forever with a capped delay; failures surface per command, not as a dead client. */
const retryStrategy = (times: number) => Math.min(times * DEFAULTS.redisConnection.reconnectStepMs, DEFAULTS.redisConnection.reconnectMaxMs);

/**
 * Every connection the service makes is built here, so the three roles behave the same on a
 * single Redis, on Sentinel and on a Cluster.
 */
export function createRedis(url: string, role: RedisRole, extra?: RedisOptions): Redis;
export function createRedis(target: RedisTarget, role: RedisRole, extra?: RedisOptions): RedisConnection;
export function createRedis(target: RedisTarget, role: RedisRole, extra: RedisOptions = {}): RedisConnection {
  const topology: RedisTopology = typeof target === 'string' ? { kind: 'single', url: target } : target;
  const base: RedisOptions = { connectionName: `cgb-${role}`, retryStrategy, lazyConnect: false, ...byRole[role], ...extra };
  const client = topology.kind === 'cluster' ? createCluster(topology, base) : topology.kind === 'sentinel' ? createSentinel(topology, base) : new Redis(topology.url, base);
  // ioredis emits 'error' on every failed reconnect; without a listener Node would crash the process.
  client.on('error', () => undefined);
  return client;
}

/** user, password, db and TLS from REDIS_URL: the part of it that still applies behind Sentinel or in a Cluster. */
function urlCredentials(url: string): RedisOptions {
  const parsed = new URL(url);
  const db = parsed.pathname.replace(/^\//, '');
  return {
    ...(parsed.username !== '' ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password !== '' ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db !== '' ? { db: Number(db) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

function createSentinel(topology: Extract<RedisTopology, { kind: 'sentinel' }>, base: RedisOptions): Redis {
  const credentials = urlCredentials(topology.url);
  return new Redis({
    ...base,
    ...credentials,
    sentinels: topology.sentinels,
    name: topology.masterName,
    role: 'master',
    ...(topology.sentinelPassword !== undefined ? { sentinelPassword: topology.sentinelPassword } : {}),
    ...(credentials.tls !== undefined ? { enableTLSForSentinelMode: true } : {}),
    // Ask the sentinels again at once when the master goes away (not after the capped delay):
    // the failover is what the sentinels are for, and the receiver spools meanwhile.
    sentinelRetryStrategy: retryStrategy,
    // A master demoted by a failover answers writes with READONLY: reconnect, which asks the
    // sentinels for the new master, and resend the command there.
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
    // A demoted master still reachable is not a reason to keep talking to it.
    failoverDetector: true,
  });
}

function createCluster(topology: Extract<RedisTopology, { kind: 'cluster' }>, base: RedisOptions): Cluster {
  const { maxRetriesPerRequest, enableOfflineQueue, lazyConnect, retryStrategy: nodeRetry, ...nodeOptions } = base;
  const options: ClusterOptions = {
    // Per-node options; BullMQ reads maxRetriesPerRequest from here on a cluster client.
    redisOptions: { ...nodeOptions, ...urlCredentials(topology.url), maxRetriesPerRequest },
    clusterRetryStrategy: nodeRetry ?? retryStrategy,
    ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
    ...(lazyConnect !== undefined ? { lazyConnect } : {}),
    // MOVED/ASK after a resharding or failover: follow them, and refresh the slot map.
    maxRedirections: DEFAULTS.redisConnection.clusterMaxRedirections,
    retryDelayOnFailover: DEFAULTS.redisConnection.clusterRetryDelayMs,
    retryDelayOnClusterDown: DEFAULTS.redisConnection.clusterRetryDelayMs,
  };
  return new Cluster(topology.nodes, options);
}

/** The database a connection uses (a cluster has only database 0). */
export function connectionDb(client: RedisConnection): number {
  return client instanceof Cluster ? 0 : (client.options.db ?? 0);
}

/** Resolves true once the client is ready, false after `timeoutMs` (the caller decides what that means). */
export function waitForReady(client: RedisConnection, timeoutMs: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    client.once('ready', onReady);
  });
}

/** The topology for logs and doctor: hosts and mode, never a password. */
export function describeRedis(target: RedisTarget): string {
  const topology: RedisTopology = typeof target === 'string' ? { kind: 'single', url: target } : target;
  const nodes = (list: { host: string; port: number }[]) => list.map((n) => `${n.host}:${n.port}`).join(',');
  if (topology.kind === 'sentinel') return `sentinel master "${topology.masterName}" via ${nodes(topology.sentinels)}`;
  if (topology.kind === 'cluster') return `cluster via ${nodes(topology.nodes)}`;
  try {
    const parsed = new URL(topology.url);
    if (parsed.password !== '') parsed.password = '[redacted]';
    return parsed.toString();
  } catch {
    return '[unparseable REDIS_URL]';
  }
}
