import { UnrecoverableError, Worker, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { jobIdFor, SYNC_QUEUE_NAME } from '../../src/queue/job.js';
import { redisKeys } from '../../src/redis/keys.js';
import { type SyncJobData } from '../../src/sync/job.js';
import { createSyncQueue } from '../../src/queue/producer.js';
import { createRedis, waitForReady } from '../../src/redis/connection.js';
import { REDIS_URL, deletePrefix, testRedis, waitFor } from '../support/redis.js';

/** A queue on its own prefix plus helpers to put jobs into the failed set the way a worker does. */
export interface QueueFixture {
  prefix: string;
  redis: Redis;
  queue: Queue<SyncJobData>;
  /** Adds a job and lets a worker fail it for good with `reason`; returns the job id. */
  failJob(hookId: string, deliveryId: string, reason: string, extra?: Partial<SyncJobData>): Promise<string>;
  add(hookId: string, deliveryId: string, extra?: Partial<SyncJobData>): Promise<string>;
  /** Stops the worker: jobs added or replayed afterwards stay waiting. */
  stopWorker(): Promise<void>;
  close(): Promise<void>;
}

export function jobData(hookId: string, deliveryId: string, extra: Partial<SyncJobData> = {}): SyncJobData {
  return {
    hookId,
    event: 'conversation_created',
    deliveryId,
    receivedAt: new Date().toISOString(),
    conversationId: 58,
    payload: { event: 'conversation_created', id: 58 },
    ...extra,
  };
}

export async function queueFixture(prefix: string): Promise<QueueFixture> {
  const redis = createRedis(REDIS_URL, 'command');
  await waitForReady(redis, 5_000);
  const keys = redisKeys(prefix);
  const queue = createSyncQueue(redis, keys);
  const reasons = new Map<string, string>();
  const workerConnection = createRedis(REDIS_URL, 'worker');
  // Fails the jobs it was told to fail, completes the others (like a worker after the fix).
  const worker = new Worker<SyncJobData>(
    SYNC_QUEUE_NAME,
    async (job) => {
      const reason = reasons.get(job.id ?? '');
      if (reason !== undefined) throw new UnrecoverableError(reason);
      return 'done';
    },
    { connection: workerConnection, prefix: keys.bullPrefix, autorun: false },
  );
  worker.on('error', () => undefined);

  async function add(hookId: string, deliveryId: string, extra: Partial<SyncJobData> = {}): Promise<string> {
    const jobId = jobIdFor(hookId, deliveryId);
    await queue.add('conversation_created', jobData(hookId, deliveryId, extra), { jobId });
    return jobId;
  }

  return {
    prefix,
    redis,
    queue,
    add,
    async failJob(hookId, deliveryId, reason, extra) {
      const jobId = jobIdFor(hookId, deliveryId);
      reasons.set(jobId, reason);
      await add(hookId, deliveryId, extra);
      if (!worker.isRunning()) void worker.run();
      await waitFor(async () => ((await queue.getJobState(jobId)) === 'failed' ? true : undefined), `job ${jobId} to fail`);
      reasons.delete(jobId);
      return jobId;
    },
    async stopWorker() {
      await worker.close();
    },
    async close() {
      await worker.close();
      await queue.close();
      workerConnection.disconnect();
      redis.disconnect();
      const cleaner = testRedis();
      await deletePrefix(cleaner, prefix);
      cleaner.disconnect();
    },
  };
}
