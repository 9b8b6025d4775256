import { ConfigError } from '../errors/index.js';
import { DEFAULTS } from './defaults.js';
import type { RedisNode, RedisTopology, ServiceEnv } from './schema.js';

/**
 * `host:port,host:port` (port optional, IPv6 as `[::1]:26379`) into nodes. Anything else (a
 * scheme, credentials, a path) is refused with the variable's name, never echoing a password.
 */
function parseRedisNodes(variable: string, list: string, defaultPort: number): RedisNode[] {
  const entries = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (entries.length === 0) throw new ConfigError(`${variable}: give at least one host:port`);
  return entries.map((entry, i) => {
    let url: URL | undefined;
    try {
      url = new URL(`redis://${entry}`);
    } catch {
      url = undefined;
    }
    const plain = url !== undefined && url.username === '' && url.password === '' && url.pathname === '' && url.search === '' && url.hash === '' && !entry.includes('@');
    if (url === undefined || !plain || url.hostname === '') {
      throw new ConfigError(`${variable}: entry ${i + 1} is not host:port (expected e.g. redis-1:${defaultPort}; credentials go in REDIS_URL or REDIS_SENTINEL_PASSWORD)`);
    }
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    return { host, port: url.port === '' ? defaultPort : Number(url.port) };
  });
}

/** The database REDIS_URL selects (`/3`), 0 when it names none. */
function redisUrlDb(url: string): number {
  const path = new URL(url).pathname.replace(/^\//, '');
  return path === '' ? 0 : Number(path);
}

/** Single Redis (REDIS_URL), Sentinel (REDIS_SENTINELS) or Cluster (REDIS_CLUSTER_NODES); never two. */
export function redisTopologyFrom(s: ServiceEnv): RedisTopology {
  const url = s.REDIS_URL;
  if (s.REDIS_SENTINELS !== undefined && s.REDIS_CLUSTER_NODES !== undefined) {
    throw new ConfigError('REDIS_SENTINELS and REDIS_CLUSTER_NODES are both set: a bridge uses either Sentinel or a Redis Cluster, not both');
  }
  if (s.REDIS_SENTINELS !== undefined) {
    return {
      kind: 'sentinel',
      url,
      sentinels: parseRedisNodes('REDIS_SENTINELS', s.REDIS_SENTINELS, DEFAULTS.redisSentinelPort),
      masterName: s.REDIS_SENTINEL_NAME,
      sentinelPassword: s.REDIS_SENTINEL_PASSWORD,
    };
  }
  if (s.REDIS_CLUSTER_NODES !== undefined) {
    const db = redisUrlDb(url);
    if (db !== 0) {
      throw new ConfigError(`REDIS_URL selects database ${db}, but a Redis Cluster only has database 0: drop the /${db} (use REDIS_KEY_PREFIX to keep bridges apart)`);
    }
    if (s.REDIS_WAIT_REPLICAS > 0) {
      throw new ConfigError('REDIS_WAIT_REPLICAS is for a single master with replicas (Sentinel); on a Redis Cluster the bridge cannot wait on every shard: leave it at 0');
    }
    return { kind: 'cluster', url, nodes: parseRedisNodes('REDIS_CLUSTER_NODES', s.REDIS_CLUSTER_NODES, DEFAULTS.redisClusterPort) };
  }
  return { kind: 'single', url };
}
