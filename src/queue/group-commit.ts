import type { Queue } from 'bullmq';
import type { RedisConnection } from '../redis/connection.js';
import { withTimeout } from '../util/timeout.js';
import type { SyncJobData } from '../sync/job.js';

/**
 * Claims every dedupe key at once or none: a delivery is a duplicate if any of its keys was seen,
 * and then the answer names the job that first claimed it.
 */
const CLAIM_SCRIPT = `
for i, k in ipairs(KEYS) do
  local first = redis.call('GET', k)
  if first then return first end
end
for i, k in ipairs(KEYS) do
  redis.call('SET', k, ARGV[1], 'EX', ARGV[2])
end
return 0`;

export interface EnqueueRequest {
  jobId: string;
  data: SyncJobData;
  /** Full Redis keys of the delivery's dedupe ids. */
  dedupeKeys: string[];
}

/** `queued`, or the id of the job that first claimed one of the dedupe keys. */
export type EnqueueResult = { status: 'queued' } | { status: 'duplicate'; jobId: string };

interface Pending extends EnqueueRequest {
  resolve: (result: EnqueueResult) => void;
  reject: (err: Error) => void;
}

type ClaimCommand = (...args: (string | number)[]) => unknown;

/**
 * Group commit for the webhook intake. Deliveries that arrive in the same turn of the event loop
 * are stored together: one pipelined write of all their dedupe claims, then one pipelined write
 * of all the jobs they won, instead of two Redis round trips (and two socket writes) each. Each
 * caller's promise settles only after ITS job is in Redis (or fails, and the caller spools), so
 * every 2xx is still durable before it is sent; batching only shares the round trips.
 *
 * Claims in one pipeline run one after the other in Redis, so two copies of a delivery in the same
 * batch still meet: the second sees the first's claim and is a duplicate.
 */
export class EnqueueBatcher {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly redis: RedisConnection,
    private readonly queue: Queue<SyncJobData>,
    private readonly options: { timeoutMs: number; dedupeTtlS: number; maxBatchJobs: number },
  ) {
    redis.defineCommand('cgbClaimDedupe', { lua: CLAIM_SCRIPT });
  }

  submit(request: EnqueueRequest): Promise<EnqueueResult> {
    return new Promise<EnqueueResult>((resolve, reject) => {
      this.pending.push({ ...request, resolve, reject });
      if (this.pending.length >= this.options.maxBatchJobs) this.flushNow();
      else if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate, not nextTick: the batch collects every request of this poll phase.
        setImmediate(() => this.flushNow());
      }
    });
  }

  private flushNow(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.store(batch).catch((err: unknown) => {
      const error = err instanceof Error ? err : new Error(String(err));
      for (const item of batch) item.reject(error);
    });
  }

  /**
   * One pipeline per hook: on a Redis Cluster a hook's keys share one hash slot (`{hookId}`), and
   * a pipeline or a multi-key DEL must stay in one slot. A single Redis sees one pipeline per hook
   * that had deliveries in this turn, usually one.
   */
  private async store(batch: Pending[]): Promise<void> {
    const byHook = new Map<string, Pending[]>();
    for (const item of batch) {
      const group = byHook.get(item.data.hookId);
      if (group) group.push(item);
      else byHook.set(item.data.hookId, [item]);
    }
    await Promise.all(
      [...byHook.values()].map((group) =>
        this.storeGroup(group).catch((err: unknown) => {
          // Only this hook's deliveries fail (and spool); another hook's group is unaffected.
          const error = err instanceof Error ? err : new Error(String(err));
          for (const item of group) item.reject(error);
        }),
      ),
    );
  }

  private async storeGroup(batch: Pending[]): Promise<void> {
    const claims = this.redis.pipeline();
    // defineCommand adds the method on pipelines too at run time; ioredis cannot type it.
    const claim = (claims as unknown as { cgbClaimDedupe: ClaimCommand }).cgbClaimDedupe.bind(claims);
    for (const item of batch) claim(item.dedupeKeys.length, ...item.dedupeKeys, item.jobId, String(this.options.dedupeTtlS));
    const results = await withTimeout(claims.exec(), this.options.timeoutMs, 'dedupe');
    if (results === null) throw new Error('dedupe: the Redis pipeline was discarded');

    const won: Pending[] = [];
    batch.forEach((item, i) => {
      const [err, seen] = results[i] ?? [new Error('dedupe: no reply'), null];
      if (err) item.reject(err);
      else if (typeof seen === 'string') item.resolve({ status: 'duplicate', jobId: seen });
      else won.push(item);
    });
    if (won.length === 0) return;

    try {
      await withTimeout(
        this.queue.addBulk(won.map((item) => ({ name: item.data.event, data: item.data, opts: { jobId: item.jobId } }))),
        this.options.timeoutMs,
        'enqueue',
      );
    } catch (err) {
      // Some jobs of the batch may exist, some may not: release every claim so nothing blocks a
      // legitimate later copy; each caller then spools (a spooled event keeps its job id, and
      // adding an existing job id is a no-op, so nothing is doubled).
      await this.redis.del(...won.flatMap((item) => item.dedupeKeys)).catch(() => undefined);
      const error = err instanceof Error ? err : new Error(String(err));
      for (const item of won) item.reject(error);
      return;
    }
    for (const item of won) item.resolve({ status: 'queued' });
  }
}
