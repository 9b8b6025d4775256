import { Queue, type JobsOptions } from 'bullmq';
import type { RedisConnection } from '../redis/connection.js';
import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import type { Metrics } from '../metrics/metrics.js';
import { jobIdFor, SYNC_QUEUE_NAME } from './job.js';
import { type RedisKeys } from '../redis/keys.js';
import { type SyncJobData } from '../sync/job.js';
import { EnqueueBatcher, type JobStore } from './group-commit.js';
import type { DiskSpool } from './spool.js';
import { withTimeout } from '../util/timeout.js';
import { ReplicationLagError } from '../errors/index.js';

export const SYNC_JOB_OPTIONS: JobsOptions = {
  attempts: DEFAULTS.job.attempts,
  // BullMQ's own exponential backoff, jittered: workers that failed together (GLPI down) come back
  // spread out. Jobs of the previous release still carry type 'jitter' (see the worker).
  backoff: { type: 'exponential', delay: DEFAULTS.job.backoffBaseMs, jitter: DEFAULTS.job.backoffJitter },
  removeOnComplete: { count: DEFAULTS.job.keepCompletedCount },
  // Failed jobs stay for `failed` / `replay`; only very old ones are trimmed.
  removeOnFail: { age: DEFAULTS.job.keepFailedAgeS },
};

export function createSyncQueue(connection: RedisConnection, keys: RedisKeys): Queue<SyncJobData> {
  return new Queue<SyncJobData>(SYNC_QUEUE_NAME, {
    connection,
    prefix: keys.bullPrefix,
    defaultJobOptions: SYNC_JOB_OPTIONS,
  });
}

type IngestOutcome =
  | { status: 'queued'; jobId: string }
  | { status: 'spooled'; jobId: string }
  | { status: 'duplicate'; jobId: string };

interface IngestDeps {
  /** The sync queue (the bench's what-if passes another store). */
  queue: JobStore;
  /** The producer connection (fails fast). */
  redis: RedisConnection;
  keys: RedisKeys;
  spool: DiskSpool;
  metrics: Metrics;
  logger: Logger;
  /** Upper bound for the Redis part of an answer; Chatwoot gives up after 5 s. */
  redisTimeoutMs?: number;
  dedupeTtlS?: number;
  /**
   * REDIS_WAIT_REPLICAS: replicas that must hold a webhook's job before it is answered 2xx
   * (Redis WAIT). 0 = the master's acknowledgement is enough (single Redis).
   */
  waitReplicas?: number;
  waitReplicasTimeoutMs?: number;
}


/**
 * Durable acceptance of a webhook: dedupe in Redis, then add the job; if Redis cannot answer,
 * write the event to the disk spool instead. Either way the event is on durable storage before
 * the caller answers 2xx. `drainSpool()` moves spooled events into the queue later.
 */
export class Ingest {
  private readonly redisTimeoutMs: number;
  private readonly dedupeTtlS: number;
  private readonly waitReplicas: number;
  private readonly waitReplicasTimeoutMs: number;
  private draining: Promise<void> | undefined;

  /** Concurrent deliveries share their Redis round trips (group commit); see group-commit.ts. */
  private readonly batcher: EnqueueBatcher;

  constructor(private readonly deps: IngestDeps) {
    this.redisTimeoutMs = deps.redisTimeoutMs ?? DEFAULTS.ingestRedisTimeoutMs;
    this.dedupeTtlS = deps.dedupeTtlS ?? DEFAULTS.dedupeTtlS;
    this.waitReplicas = deps.waitReplicas ?? DEFAULTS.redisWaitReplicas;
    this.waitReplicasTimeoutMs = deps.waitReplicasTimeoutMs ?? DEFAULTS.redisWaitReplicasTimeoutMs;
    this.batcher = new EnqueueBatcher(deps.redis, deps.queue, {
      timeoutMs: this.redisTimeoutMs,
      dedupeTtlS: this.dedupeTtlS,
      maxBatchJobs: DEFAULTS.ingestBatchMaxJobs,
      maxWaitMs: DEFAULTS.ingestGroupMaxWaitMs,
    });
  }

  /**
   * @param dedupeIds the delivery id first, then content keys (e.g. `message:9801`) that identify
   *   the same event re-sent by Chatwoot under a new delivery id.
   */
  async accept(data: SyncJobData, dedupeIds: string[]): Promise<IngestOutcome> {
    const jobId = jobIdFor(data.hookId, data.deliveryId);
    const keys = dedupeIds.map((id) => this.deps.keys.dedupe(data.hookId, id));
    try {
      const stored = await this.batcher.submit({ jobId, data, dedupeKeys: keys });
      if (stored.status === 'duplicate') return { status: 'duplicate', jobId: stored.jobId };
      // The job is on the master; a failover before a replica has it would lose it. Not confirmed
      // in time: it is spooled as well (the claim stays, the job id makes the second add a no-op).
      await this.replicated();
      return { status: 'queued', jobId };
    } catch (err) {
      this.deps.logger.warn(
        { err: { message: (err as Error).message }, jobId, hookId: data.hookId, deliveryId: data.deliveryId },
        'Redis unavailable, spooling the event to disk',
      );
      await this.deps.spool.append({ jobId, data });
      this.deps.metrics.spooled.inc();
      this.scheduleDrain();
      return { status: 'spooled', jobId };
    }
  }

  private drainTimer: NodeJS.Timeout | undefined;

  /** Retries the drain until the spool is empty; one loop at a time. */
  scheduleDrain(delayMs: number = DEFAULTS.spoolDrainFirstDelayMs): void {
    if (this.drainTimer !== undefined || this.closed) return;
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      this.drainSpool()
        .then((left) => {
          if (left > 0) this.scheduleDrain(Math.min(delayMs * 2, DEFAULTS.spoolDrainMaxDelayMs));
        })
        .catch((err: unknown) => {
          // The spool directory itself failed (EACCES, EMFILE...): keep trying, never crash the api.
          this.deps.logger.error({ err: { message: (err as Error).message } }, 'draining the disk spool failed; retrying');
          this.scheduleDrain(Math.min(delayMs * 2, DEFAULTS.spoolDrainMaxDelayMs));
        });
    }, delayMs);
    this.drainTimer.unref();
  }

  /** Moves spooled events into the queue; returns how many are left. */
  async drainSpool(): Promise<number> {
    // `while`, not `if`: several callers may wait on the same drain, and only one may start the next.
    while (this.draining) await this.draining;
    let left = 0;
    this.draining = (async () => {
      const result = await this.deps.spool.drain(async ({ jobId, data }) => {
        await withTimeout(this.deps.queue.add(data.event, data, { jobId }), this.redisTimeoutMs, 'enqueue');
        // The spool file is deleted only once the job would survive a failover.
        await this.replicated();
      });
      left = result.left;
      this.deps.metrics.spooled.set(left);
      if (result.moved > 0) this.deps.logger.info({ moved: result.moved, left }, 'drained spooled events into the queue');
    })().finally(() => {
      this.draining = undefined;
    });
    await this.draining;
    return left;
  }

  /**
   * Redis WAIT on the producer connection: it covers every write this connection sent before it
   * (the dedupe claim and BullMQ's add, which runs on the same client), so one call is enough.
   */
  private async replicated(): Promise<void> {
    if (this.waitReplicas === 0) return;
    const got = await withTimeout(this.deps.redis.wait(this.waitReplicas, this.waitReplicasTimeoutMs), this.waitReplicasTimeoutMs + this.redisTimeoutMs, 'replication');
    if (got < this.waitReplicas) throw new ReplicationLagError(this.waitReplicas, got);
  }

  private closed = false;

  close(): void {
    this.closed = true;
    if (this.drainTimer) clearTimeout(this.drainTimer);
  }
}
