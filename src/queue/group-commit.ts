import type { RedisConnection } from '../redis/connection.js';
import { withTimeout } from '../util/timeout.js';
import type { SyncJobData } from '../sync/job.js';

/**
 * Claims the dedupe keys of a whole group of deliveries in one script call. Per delivery, in
 * arrival order: all its keys at once or none; it is a duplicate if any of its keys was seen, and
 * then the answer names the job that first claimed it. Deliveries run one after the other inside
 * the script, so two copies in the same group still meet.
 * ARGV: ttl, then per delivery its key count and job id; KEYS: every delivery's keys in order.
 * Returns per delivery 0 (claimed) or the first claimant's job id.
 */
const CLAIM_SCRIPT = `
local out = {}
local k = 1
local a = 2
while a <= #ARGV do
  local n = tonumber(ARGV[a])
  local jobId = ARGV[a + 1]
  local first = 0
  for j = k, k + n - 1 do
    local seen = redis.call('GET', KEYS[j])
    if seen then first = seen break end
  end
  if first == 0 then
    for j = k, k + n - 1 do redis.call('SET', KEYS[j], jobId, 'EX', ARGV[1]) end
  end
  out[#out + 1] = first
  k = k + n
  a = a + 2
end
return out`;

/**
 * Where the intake stores a job: the sync queue (BullMQ's `Queue` is one). An existing job id must
 * be a no-op, which the spool's drain relies on.
 */
export interface JobStore {
  add(name: string, data: SyncJobData, opts: { jobId: string }): Promise<unknown>;
}

interface EnqueueRequest {
  jobId: string;
  data: SyncJobData;
  /** Full Redis keys of the delivery's dedupe ids. */
  dedupeKeys: string[];
}

/** `queued`, or the id of the job that first claimed one of the dedupe keys. */
type EnqueueResult = { status: 'queued' } | { status: 'duplicate'; jobId: string };

interface Pending extends EnqueueRequest {
  resolve: (result: EnqueueResult) => void;
  reject: (err: Error) => void;
}

/** The script as ioredis defines it on the connection (defineCommand cannot type it). */
type ClaimCommand = (numKeys: number, ...args: (string | number)[]) => Promise<(0 | string)[]>;

/**
 * Group commit for the webhook intake. Deliveries that arrive in the same turn of the event loop
 * are stored together: one script call claims all their dedupe keys, then the jobs they won are
 * added all at once (one BullMQ `add` each, sent back to back on the connection) instead of a
 * claim round trip and an add round trip per delivery in turn. While a group is being stored, the
 * deliveries that arrive meanwhile wait for it (at most `maxWaitMs`) and form the next group: under
 * load the groups grow by themselves, and the per-group cost (the claim call, its socket write) is
 * shared by more deliveries. With nothing in flight a group leaves at the end of the current turn.
 * One claim call, not a pipeline of one call per delivery, and `add`s rather than `addBulk`: an
 * ioredis pipeline (addBulk's MULTI is one) copies every script defined on the connection
 * (BullMQ's dozens) when it is created; measured in docs/performance.md. Each caller's promise
 * settles only after ITS job is in Redis (or its add failed, and the caller spools), so every 2xx
 * is still durable before it is sent; batching only shares the round trips.
 *
 * The claims of one call run one after the other in Redis, so two copies of a delivery in the same
 * group still meet: the second sees the first's claim and is a duplicate.
 */
export class EnqueueBatcher {
  private pending: Pending[] = [];
  private scheduled = false;
  /** Groups being stored; the next group leaves when this is back to 0, when full, or at `waitTimer`. */
  private inFlight = 0;
  private waitTimer: NodeJS.Timeout | undefined;
  private readonly claims: { cgbClaimDedupeGroup: ClaimCommand };

  constructor(
    private readonly redis: RedisConnection,
    private readonly queue: JobStore,
    private readonly options: { timeoutMs: number; dedupeTtlS: number; maxBatchJobs: number; maxWaitMs: number },
  ) {
    redis.defineCommand('cgbClaimDedupeGroup', { lua: CLAIM_SCRIPT });
    // defineCommand adds the method at run time; ioredis cannot type it.
    this.claims = redis as unknown as { cgbClaimDedupeGroup: ClaimCommand };
  }

  submit(request: EnqueueRequest): Promise<EnqueueResult> {
    return new Promise<EnqueueResult>((resolve, reject) => {
      this.pending.push({ ...request, resolve, reject });
      if (this.pending.length >= this.options.maxBatchJobs) this.flushNow();
      else this.schedule();
    });
  }

  /** The pending group leaves at the end of this turn, or once the group in flight is stored. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not nextTick: the batch collects every request of this poll phase.
    if (this.inFlight === 0) setImmediate(() => this.flushNow());
    else this.waitTimer = setTimeout(() => this.flushNow(), this.options.maxWaitMs);
  }

  private flushNow(): void {
    this.scheduled = false;
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    this.inFlight += 1;
    // store() is bounded: each of its Redis calls has the timeout, so the next group cannot wait forever.
    void this.store(batch)
      .catch((err: unknown) => {
        const error = err instanceof Error ? err : new Error(String(err));
        for (const item of batch) item.reject(error);
      })
      .finally(() => {
        this.inFlight -= 1;
        // The group that waited for this one leaves now, with whatever else arrives in this turn.
        if (this.waitTimer === undefined) return;
        clearTimeout(this.waitTimer);
        this.waitTimer = undefined;
        setImmediate(() => this.flushNow());
      });
  }

  /**
   * One claim call per hook: on a Redis Cluster a hook's keys share one hash slot (`{hookId}`),
   * and a multi-key script or a multi-key DEL must stay in one slot. A
   * single Redis sees one group per hook that had deliveries in this turn, usually one.
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
    const keys: string[] = [];
    const args: (string | number)[] = [this.options.dedupeTtlS];
    for (const item of batch) {
      keys.push(...item.dedupeKeys);
      args.push(item.dedupeKeys.length, item.jobId);
    }
    const results = await withTimeout(this.claims.cgbClaimDedupeGroup(keys.length, ...keys, ...args), this.options.timeoutMs, 'dedupe');

    const won: Pending[] = [];
    batch.forEach((item, i) => {
      const seen = results[i];
      if (seen === undefined) item.reject(new Error('dedupe: no reply'));
      else if (typeof seen === 'string') item.resolve({ status: 'duplicate', jobId: seen });
      else won.push(item);
    });
    if (won.length === 0) return;

    // One add per job, not addBulk: the jobs need no transaction between them (a job that failed
    // to store is spooled with its id, and adding an existing id is a no-op), and addBulk's
    // pipeline costs more api CPU than the adds. Each caller is answered when ITS job is stored.
    const failed: { item: Pending; err: unknown }[] = [];
    await Promise.all(
      won.map((item) =>
        withTimeout(this.queue.add(item.data.event, item.data, { jobId: item.jobId }), this.options.timeoutMs, 'enqueue').then(
          () => item.resolve({ status: 'queued' }),
          (err: unknown) => failed.push({ item, err }),
        ),
      ),
    );
    if (failed.length === 0) return;
    // A failed (or timed-out) add may still land: release its claims so nothing blocks a
    // legitimate later copy; each caller then spools (a spooled event keeps its job id, and
    // adding an existing job id is a no-op, so nothing is doubled). Each is told its own error.
    await withTimeout(this.redis.del(...failed.flatMap(({ item }) => item.dedupeKeys)), this.options.timeoutMs, 'release claims').catch(() => undefined);
    for (const { item, err } of failed) item.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
