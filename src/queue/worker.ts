import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { RedisConnection } from '../redis/connection.js';
import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import { dispositionOf, errorCode, failureOf, failureReason, type JobFailure } from '../errors/index.js';
import type { Metrics } from '../metrics/metrics.js';
import type { SyncOutcome, SyncProcessor } from '../sync/use-case.js';
import { SYNC_QUEUE_NAME } from './job.js';
import { redisKeys, type RedisKeyOptions } from '../redis/keys.js';
import { type SyncJobData } from '../sync/job.js';

/** A job's data once it failed: `lastError` is read by `failed` (src/ops/queue-ops.ts). */
export type SyncJobDataWithFailure = SyncJobData & { lastError?: JobFailure };

interface SyncWorkerOptions {
  /** A dedicated ioredis connection with `maxRetriesPerRequest: null` (BullMQ requires it). */
  connection: RedisConnection;
  /** REDIS_KEY_PREFIX; the BullMQ prefix is derived from it as the producer does. */
  prefix: string;
  /** Hash tags on a Redis Cluster (see redisKeys); must match the producer's. */
  keyOptions?: RedisKeyOptions;
  concurrency: number;
  processor: SyncProcessor;
  logger: Logger;
  metrics: Pick<Metrics, 'jobs' | 'jobDuration' | 'jobLatency'>;
  clock?: () => number;
  /** How long a job whose hook is busy waits in `delayed` before trying again (jittered). */
  lockRetryDelayMs?: number;
  /**
   * Upper bound of the backoff of jobs enqueued with the previous release's 'jitter' type (see
   * legacyJitterBackoffMs). Jobs enqueued now use BullMQ's exponential backoff, which has no cap.
   */
  backoffMaxMs?: number;
  /** close(): how long in-flight jobs may run before they are asked to stop and handed back. */
  closeTimeoutMs?: number;
  /** BullMQ lockDuration (default 30 s): a dead worker's job counts as stalled once it lapses. */
  lockDurationMs?: number;
  /** BullMQ stalledInterval (default 30 s): how often stalled jobs are found and handed back. */
  stalledIntervalMs?: number;
}

export interface SyncWorker {
  readonly worker: Worker<SyncJobData, SyncOutcome>;
  /** Starts consuming; resolves once connected. */
  start(): Promise<void>;
  /** Stops taking jobs, lets in-flight ones finish (or hands them back after closeTimeoutMs). */
  close(): Promise<void>;
}

/**
 * The previous release's own backoff strategy, kept only for jobs it enqueued: they carry
 * `backoff: { type: 'jitter', delay }`, a type BullMQ does not know, and without a strategy for it their
 * first retry after an upgrade would throw "Unknown backoff strategy" instead of waiting.
 * Exponential with "equal jitter" (half the step kept, half random), capped at maxMs: the same
 * curve as BullMQ's `exponential` with `jitter: 0.5` that new jobs use, plus the cap.
 */
function legacyJitterBackoffMs(attemptsMade: number, baseMs: number, maxMs: number): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(step / 2 + Math.random() * (step / 2));
}

export function createSyncWorker(options: SyncWorkerOptions): SyncWorker {
  const clock = options.clock ?? Date.now;
  const lockRetryDelayMs = options.lockRetryDelayMs ?? DEFAULTS.job.lockRetryDelayMs;
  const backoffMaxMs = options.backoffMaxMs ?? DEFAULTS.job.backoffMaxMs;
  const { logger, metrics, processor } = options;

  async function processJob(job: Job<SyncJobData, SyncOutcome>, token?: string, signal?: AbortSignal): Promise<SyncOutcome> {
    const data = job.data;
    const labels = { hook: data.hookId, event: data.event };
    const started = clock();
    const log = logger.child({ hookId: data.hookId, event: data.event, deliveryId: data.deliveryId, jobId: job.id, conversationId: data.conversationId });
    try {
      const outcome = await processor.process(data, { signal, jobId: job.id });
      metrics.jobs.inc({ ...labels, outcome: outcome.action === 'skipped' ? 'skipped' : 'processed' });
      const receivedMs = Date.parse(data.receivedAt);
      if (Number.isFinite(receivedMs)) metrics.jobLatency.observe(labels, Math.max(0, clock() - receivedMs) / 1000);
      // A poll that found nothing runs every few seconds per hook: not worth a line at info.
      if (outcome.action === 'glpi-poll') log.debug({ outcome }, 'job done');
      else log.info({ outcome }, 'job done');
      return outcome;
    } catch (err) {
      const disposition = dispositionOf(err);
      if (disposition === 'hand-back') {
        // Not a failure (hook busy, shutdown, lock lost): the job goes back to `delayed` without
        // using an attempt (DelayedError tells BullMQ the job was moved on purpose). Jittered, so
        // busy jobs do not return in step.
        const delayMs = Math.round(lockRetryDelayMs * (0.5 + Math.random()));
        await job.moveToDelayed(clock() + delayMs, token);
        log.debug({ code: errorCode(err), delayMs }, 'job handed back to the queue');
        throw new DelayedError();
      }
      const failure = failureOf(err, clock());
      const { code } = failure;
      if (disposition === 'fail') {
        await storeFailure(job, failure);
        metrics.jobs.inc({ ...labels, outcome: 'failed' });
        log.error({ code, advice: failure.advice, err: { message: failure.message } }, 'job failed permanently; fix the cause, then replay it');
        // UnrecoverableError: no more attempts, straight to the failed set.
        throw new UnrecoverableError(failureReason(failure));
      }
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (lastAttempt) {
        await storeFailure(job, failure);
        metrics.jobs.inc({ ...labels, outcome: 'failed' });
        log.error({ code, advice: failure.advice, err: { message: failure.message } }, 'job failed after its last attempt');
      } else {
        metrics.jobs.inc({ ...labels, outcome: 'retried' });
        log.warn({ code, attempt: job.attemptsMade + 1, err: { message: failure.message } }, 'job will be retried');
      }
      throw new Error(failureReason(failure), { cause: err });
    } finally {
      metrics.jobDuration.observe(labels, Math.max(0, clock() - started) / 1000);
    }
  }

  const worker = new Worker<SyncJobData, SyncOutcome>(SYNC_QUEUE_NAME, processJob, {
    connection: options.connection,
    prefix: redisKeys(options.prefix, options.keyOptions).bullPrefix,
    concurrency: options.concurrency,
    autorun: false,
    ...(options.lockDurationMs !== undefined ? { lockDuration: options.lockDurationMs } : {}),
    ...(options.stalledIntervalMs !== undefined ? { stalledInterval: options.stalledIntervalMs } : {}),
    settings: {
      // Called only for backoff types BullMQ does not know itself, i.e. the legacy 'jitter': jobs
      // of the current producer use the built-in 'exponential' and never reach it.
      backoffStrategy: (attemptsMade, _type, _err, job) => {
        const backoff = job?.opts.backoff;
        const baseMs = typeof backoff === 'object' && backoff.delay !== undefined ? backoff.delay : DEFAULTS.job.backoffBaseMs;
        return legacyJitterBackoffMs(attemptsMade, baseMs, backoffMaxMs);
      },
    },
  });
  worker.on('error', (err) => logger.warn({ err: { message: err.message } }, 'sync worker error'));

  let running: Promise<void> | undefined;
  return {
    worker,
    async start() {
      running ??= worker.run().catch((err: unknown) => logger.error({ err: { message: (err as Error).message } }, 'sync worker stopped'));
      await worker.waitUntilReady();
    },
    async close() {
      const timeoutMs = options.closeTimeoutMs ?? DEFAULTS.lock.ttlMs / 2;
      // Jobs still running after the grace period are asked to stop before their next GLPI
      // write; they hand themselves back (moveToDelayed) and their hook lock is released in the
      // lock's finally. A job in the middle of a GLPI call finishes that call first.
      const timer = setTimeout(() => worker.cancelAllJobs('shutdown'), timeoutMs);
      timer.unref();
      try {
        await worker.close();
      } finally {
        clearTimeout(timer);
      }
      await running;
    },
  };
}

async function storeFailure(job: Job<SyncJobData, SyncOutcome>, failure: JobFailure): Promise<void> {
  try {
    await job.updateData({ ...job.data, lastError: failure } as SyncJobDataWithFailure);
  } catch {
    // The reason string still carries the code; losing the structured copy is acceptable.
  }
}
