import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { connectionDb, createRedis } from '../../src/redis/connection.js';

/**
 * Every connection is built by createRedis from the topology; these check what each one is told
 * (nothing connects: lazyConnect), so a role's failure mode is the same on Sentinel and Cluster.
 */
describe('createRedis builds every role for each topology', () => {
  it('asks the sentinels for the master, with the data nodes credentials and database from REDIS_URL', () => {
    const client = createRedis(
      { kind: 'sentinel', url: 'rediss://bridge:p%40ss@ignored:6379/3', masterName: 'cgb', sentinelPassword: 'sentinel-pass', sentinels: [{ host: 's1', port: 26379 }] },
      'producer',
      { lazyConnect: true },
    );
    expect(client).toBeInstanceOf(Redis);
    const options = (client as Redis).options;
    expect(options).toMatchObject({ name: 'cgb', role: 'master', sentinels: [{ host: 's1', port: 26379 }], sentinelPassword: 'sentinel-pass', username: 'bridge', password: 'p@ss', db: 3, enableTLSForSentinelMode: true });
    // The producer still fails fast (the receiver spools instead of hanging).
    expect(options).toMatchObject({ maxRetriesPerRequest: 1, enableOfflineQueue: false });
    expect(connectionDb(client)).toBe(3);
    client.disconnect();
  });

  it('gives a cluster client the per-node options BullMQ checks (maxRetriesPerRequest null for workers)', () => {
    const worker = createRedis({ kind: 'cluster', url: 'redis://:node-pass@x', nodes: [{ host: 'r1', port: 7000 }] }, 'worker', { lazyConnect: true });
    expect(worker).toBeInstanceOf(Cluster);
    const options = (worker as Cluster).options;
    expect(options.redisOptions).toMatchObject({ password: 'node-pass', maxRetriesPerRequest: null, connectionName: 'cgb-worker' });
    expect(options.lazyConnect).toBe(true);
    expect(connectionDb(worker)).toBe(0);
    worker.disconnect();

    const producer = createRedis({ kind: 'cluster', url: 'redis://x', nodes: [{ host: 'r1', port: 7000 }] }, 'producer', { lazyConnect: true }) as Cluster;
    expect(producer.options.enableOfflineQueue).toBe(false);
    expect(producer.options.redisOptions).toMatchObject({ maxRetriesPerRequest: 1, commandTimeout: 2_000 });
    producer.disconnect();
  });
});
