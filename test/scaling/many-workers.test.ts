import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '../../src/redis/keys.js';
import { type SyncJobData } from '../../src/sync/job.js';
import { RedisChild } from '../reliability/support.js';
import { waitFor } from '../support/redis.js';
import { SCALE_TEST_TIMEOUT_MS, startScaleRig, type ScaleRig } from './support.js';

/**
 * Scale-out on one Redis: one api and three worker processes over 20 hooks and 2,000 events
 * (10 conversations of 10 messages per hook, interleaved across hooks as a busy multi-tenant
 * bridge receives them). The per-hook lock is what keeps "look up, then create" safe across
 * processes: one ticket per conversation and each message exactly once, in order.
 */

const PREFIX = 'cgbmany';

/** Sum of cgb_jobs_total{outcome="processed"} in a Prometheus text exposition. */
function processedCount(text: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith('cgb_jobs_total{') && line.includes('outcome="processed"'))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

describe('three worker processes over twenty hooks', { timeout: SCALE_TEST_TIMEOUT_MS }, () => {
  let redis: RedisChild;
  let rig: ScaleRig;
  let inspector: Redis;
  let queue: Queue<SyncJobData>;

  beforeAll(async () => {
    redis = await RedisChild.start({ appendfsync: 'everysec' });
    rig = await startScaleRig({ name: 'many', prefix: PREFIX, hooks: 20, conversations: 10, perConversation: 10, redisEnv: { REDIS_URL: redis.url }, glpiLatencyMs: 1 });
    inspector = new Redis(redis.url, { maxRetriesPerRequest: 3 });
    queue = rig.openQueue(inspector, redisKeys(PREFIX).bullPrefix);
  });

  afterAll(async () => {
    await queue?.close();
    inspector?.disconnect();
    await rig?.close();
    await redis?.stop();
  });

  it('keeps one ticket per conversation and one followup per message', async () => {
    expect(rig.scenario).toHaveLength(2_000);
    const api = await rig.start('api');
    const workers = [await rig.start('worker'), await rig.start('worker'), await rig.start('worker')];

    const answers = await rig.post(api.url, rig.scenario, 8);
    expect(answers.filter((a) => a.status !== 202)).toEqual([]);

    // BullMQ keeps the last 1,000 completed jobs only: "done" is GLPI holding everything and
    // nothing left to run.
    const idle = async () => {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      return Object.values(counts).every((n) => n === 0) && rig.problems().length === 0 ? true : undefined;
    };
    await waitFor(idle, 'every job to be processed', 3_000, 100).catch(() => undefined);
    expect(rig.problems()).toEqual([]);
    expect(await queue.getFailedCount()).toBe(0);
    for (const id of rig.hookIds) {
      const sim = rig.sims.get(id);
      expect(sim?.state.tickets).toHaveLength(10);
      expect(sim?.state.followups).toHaveLength(90);
    }

    // All three processes really shared the work (the lock serialises per hook, not globally).
    const processed = await Promise.all(workers.map(async (w) => processedCount(await (await fetch(`${w.url}/metrics`)).text())));
    expect(processed.every((n) => n > 0), JSON.stringify(processed)).toBe(true);
    expect(processed.reduce((a, b) => a + b, 0)).toBe(rig.scenario.length);
  });
});
