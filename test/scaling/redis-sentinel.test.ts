import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '../../src/redis/keys.js';
import { type SyncJobData } from '../../src/sync/job.js';
import { createRedis, type RedisConnection } from '../../src/redis/connection.js';
import { waitFor } from '../support/redis.js';
import { startRedisSentinel, type RedisSentinelChild } from '../support/redis-topology.js';
import { SCALE_TEST_TIMEOUT_MS, startScaleRig, type ScaleRig } from './support.js';

/**
 * A real master, one replica and three sentinels started by the test; one api and two worker
 * processes find the master through the sentinels. Halfway through the webhooks the master is
 * failed over (SENTINEL FAILOVER): the old master becomes a replica, the bridge must follow the
 * new one. Every webhook answered 2xx ends in GLPI exactly once. Without REDIS_WAIT_REPLICAS=1 a
 * job the old master acknowledged but had not yet replicated is lost (seen while writing this).
 */

const PREFIX = 'cgbsentinel';

describe('behind Redis Sentinel, failing over mid-run', { timeout: SCALE_TEST_TIMEOUT_MS }, () => {
  let sentinel: RedisSentinelChild;
  let rig: ScaleRig;
  let client: RedisConnection;
  let queue: Queue<SyncJobData>;

  beforeAll(async () => {
    sentinel = await startRedisSentinel();
    rig = await startScaleRig({
      name: 'sentinel',
      prefix: PREFIX,
      hooks: 2,
      conversations: 6,
      perConversation: 10,
      // A 2xx waits until the replica holds the job: the master acknowledges before it replicates,
      // so a failover in between would lose a webhook Chatwoot will never send again.
      redisEnv: { REDIS_SENTINELS: sentinel.sentinels, REDIS_SENTINEL_NAME: sentinel.masterName, REDIS_WAIT_REPLICAS: '1' },
      glpiLatencyMs: 2,
    });
    client = createRedis(
      { kind: 'sentinel', url: 'redis://', masterName: sentinel.masterName, sentinelPassword: undefined, sentinels: sentinel.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })) },
      'command',
    );
    queue = rig.openQueue(client, redisKeys(PREFIX).bullPrefix);
  });

  afterAll(async () => {
    await queue?.close();
    client?.disconnect();
    await rig?.close();
    await sentinel?.stop();
  });

  it('follows the new master and syncs every acknowledged webhook exactly once', async () => {
    const api = await rig.start('api');
    await rig.start('worker');
    await rig.start('worker');
    const firstMaster = await sentinel.masterPort();

    // The failover is triggered by progress, never by the clock: once a quarter of the answers
    // are in, with requests still in flight; the second half is sent after it, to the new master.
    const half = Math.floor(rig.scenario.length / 2);
    let answered = 0;
    const chaos = waitFor(() => (answered >= half / 2 ? true : undefined), 'a quarter of the answers', 12_000, 10).then(() => sentinel.failover());
    const firstHalf = await rig.post(api.url, rig.scenario.slice(0, half), 6, () => (answered += 1));
    const newMaster = await chaos;
    expect(newMaster).not.toBe(firstMaster);
    const secondHalf = await rig.post(api.url, rig.scenario.slice(half), 6);
    const answers = [...firstHalf, ...secondHalf];

    // Chatwoot never retries: every webhook must have been accepted (queued or spooled to disk).
    expect(answers.filter((a) => a.status !== 202)).toEqual([]);
    const ids = answers.map((a) => a.body.id as string);
    expect(new Set(ids).size).toBe(rig.scenario.length);

    const done = async () => ((await queue.getCompletedCount()) === rig.scenario.length && rig.problems().length === 0 ? true : undefined);
    await waitFor(done, 'every job to complete', 6_000, 50).catch(() => undefined);
    // On failure, say where the jobs that did not complete are (lost, waiting, delayed, failed).
    const completed = new Set((await queue.getCompleted(0, -1)).map((j) => j.id));
    const unfinished = await Promise.all(ids.filter((id) => !completed.has(id)).map(async (id) => `${id}: ${await queue.getJobState(id)}`));
    expect({ problems: rig.problems(), unfinished }).toEqual({ problems: [], unfinished: [] });
    expect(await queue.getFailedCount()).toBe(0);
    // Exactly once in the queue too: every answered id is a job, none twice (BullMQ ids are unique).
    const jobs = await queue.getJobs(['completed', 'waiting', 'active', 'delayed', 'failed']);
    expect(new Set(jobs.map((j) => j.id))).toEqual(new Set(ids));
    for (const id of rig.hookIds) expect(rig.sims.get(id)?.state.tickets).toHaveLength(6);
  });
});
