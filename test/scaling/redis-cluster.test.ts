import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '../../src/redis/keys.js';
import { type SyncJobData } from '../../src/sync/job.js';
import { createRedis, type RedisConnection } from '../../src/redis/connection.js';
import { HookLock } from '../../src/sync/hook-lock.js';
import { waitFor } from '../support/redis.js';
import { startRedisCluster, type RedisClusterChild } from '../support/redis-topology.js';
import { SCALE_TEST_TIMEOUT_MS, startScaleRig, type ScaleRig } from './support.js';

/**
 * A real 3-master Redis Cluster started by the test: one api and two worker processes, three
 * hooks. Without hash tags the first webhook already fails (the dedupe claim touches several
 * keys, BullMQ's scripts touch many): every answer must be 202 and GLPI must end up holding
 * each message exactly once, one ticket per conversation.
 */

const PREFIX = 'cgbcluster';

describe('on a Redis Cluster', { timeout: SCALE_TEST_TIMEOUT_MS }, () => {
  let cluster: RedisClusterChild;
  let rig: ScaleRig;
  let client: RedisConnection;
  let queue: Queue<SyncJobData>;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    rig = await startScaleRig({ name: 'cluster', prefix: PREFIX, hooks: 3, conversations: 5, perConversation: 5, redisEnv: { REDIS_CLUSTER_NODES: cluster.nodes } });
    client = createRedis({ kind: 'cluster', url: 'redis://', nodes: cluster.ports.map((port) => ({ host: '127.0.0.1', port })) }, 'command');
    queue = rig.openQueue(client, redisKeys(PREFIX, { hashTags: true }).bullPrefix);
  });

  afterAll(async () => {
    await queue?.close();
    client?.disconnect();
    await rig?.close();
    await cluster?.stop();
  });

  it('gives the per-hook lock to one holder at a time across two cluster clients (two processes)', async () => {
    const keys = redisKeys(`${PREFIX}lock`, { hashTags: true });
    const other = createRedis({ kind: 'cluster', url: 'redis://', nodes: cluster.ports.map((port) => ({ host: '127.0.0.1', port })) }, 'command');
    try {
      const locks = [new HookLock(client, keys, { ttlMs: 5_000, extendThresholdMs: 1_000, acquireWaitMs: 60_000 }), new HookLock(other, keys, { ttlMs: 5_000, extendThresholdMs: 1_000, acquireWaitMs: 60_000 })];
      let inside = 0;
      let maxInside = 0;
      let runs = 0;
      await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          (locks[i % 2] as HookLock).run('h1', async () => {
            inside += 1;
            maxInside = Math.max(maxInside, inside);
            // Real I/O inside the critical section, on the slot of the hook: an overlap would show.
            await client.incr(keys.mapping('h1'));
            runs += 1;
            inside -= 1;
          }),
        ),
      );
      expect(runs).toBe(16);
      expect(maxInside).toBe(1);
      // The lock key sits in the hook's slot and is released after the last run.
      expect(await client.exists(keys.lock('h1'))).toBe(0);
      await client.del(keys.mapping('h1'));
    } finally {
      other.disconnect();
    }
  });

  it('syncs every acknowledged webhook exactly once with one api and two workers', async () => {
    const api = await rig.start('api');
    await rig.start('worker');
    await rig.start('worker');

    const answers = await rig.post(api.url, rig.scenario, 8);
    // Every webhook accepted: queued, or spooled to disk when the cluster was slower than the api's
    // wait (a busy machine); the spool drains into the same queue, so either way it must complete.
    expect(answers.filter((a) => a.status !== 202 || a.body.status !== 'queued')).toEqual([]);
    const ids = answers.map((a) => a.body.id as string);
    expect(new Set(ids).size).toBe(rig.scenario.length);

    await waitFor(async () => ((await queue.getCompletedCount()) === rig.scenario.length ? true : undefined), 'every job to complete', 6_000, 50);
    expect(await queue.getFailedCount()).toBe(0);
    // Exactly once in the queue: every answered id is a job, none twice.
    const jobs = await queue.getJobs(['completed', 'waiting', 'active', 'delayed', 'failed']);
    expect(new Set(jobs.map((j) => j.id))).toEqual(new Set(ids));
    expect(rig.problems()).toEqual([]);
    for (const id of rig.hookIds) expect(rig.sims.get(id)?.state.tickets).toHaveLength(5);

    // The keys really are hash-tagged: the queue's under {prefix:bull}, each hook's under {hookId}.
    const keys = redisKeys(PREFIX, { hashTags: true });
    expect(await client.exists(keys.hookState('h2'))).toBe(1);
    expect(await client.call('CLUSTER', 'KEYSLOT', keys.mapping('h2'))).toBe(await client.call('CLUSTER', 'KEYSLOT', keys.lock('h2')));

    // /ready reads every hook's state across slots.
    const ready = await fetch(`${api.url}/ready`);
    expect(ready.status).toBe(200);
  });
});
