import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors/index.js';
import { describeRedis } from '../../src/redis/connection.js';

const minimal = {
  GLPI_API_URL: 'https://glpi.example.com/apirest.php',
  GLPI_USER_TOKEN: 'user-token-value',
  CHATWOOT_WEBHOOK_SECRET: 'hook-secret-value',
};

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig({ ...minimal, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('naming the Redis: single, Sentinel or Cluster', () => {
  it('is a single Redis at REDIS_URL unless told otherwise', () => {
    expect(loadConfig(minimal).redis).toEqual({ kind: 'single', url: 'redis://127.0.0.1:6379' });
  });

  it('reads REDIS_SENTINELS (default port 26379, IPv6 in brackets) and the master name', () => {
    const config = loadConfig({ ...minimal, REDIS_SENTINELS: 's1:26380, s2 ,[::1]:26381', REDIS_SENTINEL_NAME: 'bridge', REDIS_SENTINEL_PASSWORD: 'sentinel-pass', REDIS_URL: 'redis://:data-pass@ignored:6379/4' });
    expect(config.redis).toEqual({
      kind: 'sentinel',
      url: 'redis://:data-pass@ignored:6379/4',
      masterName: 'bridge',
      sentinelPassword: 'sentinel-pass',
      sentinels: [
        { host: 's1', port: 26380 },
        { host: 's2', port: 26379 },
        { host: '::1', port: 26381 },
      ],
    });
    expect(loadConfig({ ...minimal, REDIS_SENTINELS: 's1' }).redis).toMatchObject({ masterName: 'mymaster' });
  });

  it('reads REDIS_CLUSTER_NODES (default port 6379)', () => {
    expect(loadConfig({ ...minimal, REDIS_CLUSTER_NODES: 'r1:7000,r2' }).redis).toEqual({
      kind: 'cluster',
      url: 'redis://127.0.0.1:6379',
      nodes: [
        { host: 'r1', port: 7000 },
        { host: 'r2', port: 6379 },
      ],
    });
  });

  it('refuses both at once, a database other than 0 on a cluster, and entries that are not host:port', () => {
    expect(configError({ REDIS_SENTINELS: 's1', REDIS_CLUSTER_NODES: 'r1' }).message).toMatch(/both set/);
    expect(configError({ REDIS_CLUSTER_NODES: 'r1', REDIS_URL: 'redis://r1:6379/3' }).message).toMatch(/Cluster only has database 0/);
    expect(configError({ REDIS_CLUSTER_NODES: 'r1:notaport' }).message).toMatch(/^REDIS_CLUSTER_NODES: entry 1 is not host:port/);
    expect(configError({ REDIS_SENTINELS: 'redis://s1:26379' }).message).toMatch(/^REDIS_SENTINELS: entry 1 is not host:port/);
    expect(configError({ REDIS_SENTINELS: ',' }).message).toMatch(/at least one/);
    expect(configError({ REDIS_CLUSTER_NODES: 'r1', REDIS_WAIT_REPLICAS: '1' }).message).toMatch(/^REDIS_WAIT_REPLICAS is for a single master/);
    expect(configError({ REDIS_WAIT_REPLICAS: '-1' }).message).toMatch(/^REDIS_WAIT_REPLICAS/);
    expect(loadConfig({ ...minimal, REDIS_SENTINELS: 's1', REDIS_WAIT_REPLICAS: '1' })).toMatchObject({ redisWaitReplicas: 1, redisWaitTimeoutMs: 500 });
  });

  it('never repeats a password put in a node list by mistake', () => {
    const err = configError({ REDIS_SENTINELS: 's1:26379,:hunter2-sentinel@s2:26379' });
    expect(err.message).toMatch(/entry 2 is not host:port/);
    expect(err.message).not.toContain('hunter2');
    expect(describeRedis({ kind: 'single', url: 'redis://:hunter2@r:6379' })).not.toContain('hunter2');
    expect(describeRedis(loadConfig({ ...minimal, REDIS_SENTINELS: 's1', REDIS_URL: 'redis://:hunter2@x' }).redis)).toBe('sentinel master "mymaster" via s1:26379');
  });
});
