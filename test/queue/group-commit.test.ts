import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.js';
import { jobIdFor } from '../../src/queue/job.js';
import { redisKeys, type RedisKeys } from '../../src/redis/keys.js';
import { type SyncJobData } from '../../src/sync/job.js';
import { createSyncQueue, Ingest } from '../../src/queue/producer.js';
import { DiskSpool } from '../../src/queue/spool.js';
import { EnqueueBatcher } from '../../src/queue/group-commit.js';
import { createRedis, waitForReady } from '../../src/redis/connection.js';
import { deletePrefix, REDIS_URL, testPrefix } from '../support/redis.js';

function event(deliveryId: string, messageId: number): SyncJobData {
  return {
    hookId: 'acme',
    event: 'message_created',
    deliveryId,
    receivedAt: new Date(0).toISOString(),
    conversationId: 7,
    // What a customer controls, as it would reach the queue.
    payload: { event: 'message_created', id: messageId, content: '<script>"\u0000 ${x} \u202e', sender: { name: "'; DROP TABLE --" } },
  };
}

describe('Ingest group commit', () => {
  let prefix: string;
  let keys: RedisKeys;
  let redis: Redis;
  let queue: Queue<SyncJobData>;
  let spoolDir: string;
  let spool: DiskSpool;
  let ingest: Ingest;

  beforeEach(async () => {
    prefix = testPrefix('group-commit');
    keys = redisKeys(prefix);
    redis = createRedis(REDIS_URL, 'producer');
    await waitForReady(redis, 5_000);
    queue = createSyncQueue(redis, keys);
    queue.on('error', () => undefined);
    spoolDir = mkdtempSync(join(tmpdir(), 'cgb-group-commit-'));
    spool = new DiskSpool(spoolDir);
    ingest = new Ingest({ queue, redis, keys, spool, metrics: createMetrics(), logger: pino({ level: 'silent' }), redisTimeoutMs: 5_000 });
  });

  afterEach(async () => {
    ingest.close();
    await queue.close().catch(() => undefined);
    await deletePrefix(redis, prefix);
    redis.disconnect();
    rmSync(spoolDir, { recursive: true, force: true });
  });

  it('stores a burst of concurrent deliveries with shared claim calls, each answered only once its job is in Redis', async () => {
    // The claim script the batcher defines on the connection (ioredis cannot type it).
    const claims = vi.spyOn(redis as unknown as { cgbClaimDedupeGroup: (...args: unknown[]) => Promise<unknown> }, 'cgbClaimDedupeGroup');
    const bulk = vi.spyOn(queue, 'addBulk');
    const jobWrites = vi.spyOn(queue, 'add');
    const n = 40;
    const outcomes = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const outcome = await ingest.accept(event(`burst-${i}`, 5_000 + i), [`burst-${i}`, `message:${5_000 + i}`]);
        // Checked the moment this caller is answered, before the rest of the burst settles.
        const job = await queue.getJob(outcome.jobId);
        return { outcome, stored: job?.data.deliveryId };
      }),
    );
    outcomes.forEach(({ outcome, stored }, i) => {
      expect(outcome).toEqual({ status: 'queued', jobId: jobIdFor('acme', `burst-${i}`) });
      expect(stored).toBe(`burst-${i}`);
    });
    expect(bulk).not.toHaveBeenCalled();
    // One claim call per batch for all its deliveries, one add per job; the burst arrived in one
    // turn of the loop (two batches at most if a timer split it).
    expect(claims.mock.calls.length).toBeGreaterThan(0);
    expect(claims.mock.calls.length).toBeLessThanOrEqual(2);
    expect(jobWrites).toHaveBeenCalledTimes(n);
    expect(await queue.getWaitingCount()).toBe(n);
  });

  it('still meets copies of one delivery, and one message under new delivery ids, inside the same batch', async () => {
    const copies = await Promise.all([
      ...Array.from({ length: 10 }, () => ingest.accept(event('same-delivery', 9_001), ['same-delivery', 'message:9001'])),
      // Chatwoot's listener retry: the same message under fresh delivery ids, in the same burst.
      ...Array.from({ length: 10 }, (_, i) => ingest.accept(event(`retry-${i}`, 9_001), [`retry-${i}`, 'message:9001'])),
    ]);
    const queued = copies.filter((c) => c.status === 'queued');
    expect(queued).toHaveLength(1);
    const winner = queued[0]?.jobId;
    for (const copy of copies.filter((c) => c.status !== 'queued')) expect(copy).toEqual({ status: 'duplicate', jobId: winner });
    expect(await queue.getWaitingCount()).toBe(1);
  });

  it('spools every delivery of a batch whose job writes fail, releases their claims, and drains them once', async () => {
    const readOnly = vi.spyOn(queue, 'add').mockRejectedValue(new Error('READONLY You cannot write against a read only replica.'));
    const n = 12;
    const outcomes = await Promise.all(Array.from({ length: n }, (_, i) => ingest.accept(event(`failing-${i}`, 7_000 + i), [`failing-${i}`, `message:${7_000 + i}`])));
    for (const outcome of outcomes) expect(outcome.status).toBe('spooled');
    expect(await spool.size()).toBe(n);
    // Released: a later legitimate copy is not refused as a duplicate of a job that may not exist.
    expect(await redis.exists(keys.dedupe('acme', 'failing-0'), keys.dedupe('acme', 'message:7000'))).toBe(0);
    readOnly.mockRestore();
    expect(await ingest.drainSpool()).toBe(0);
    const again = await ingest.accept(event('failing-0', 7_000), ['failing-0', 'message:7000']);
    expect(again.jobId).toBe(jobIdFor('acme', 'failing-0'));
    expect(await queue.getWaitingCount()).toBe(n);
  });

  it('spools only the delivery whose job write failed; the rest of its group is queued and keeps its claims', async () => {
    const realAdd = queue.add.bind(queue);
    vi.spyOn(queue, 'add').mockImplementation(async (name, data, opts) => {
      if (data.deliveryId === 'mixed-3') throw new Error('OOM command not allowed when used memory > maxmemory');
      return realAdd(name, data, opts);
    });
    const outcomes = await Promise.all(Array.from({ length: 6 }, (_, i) => ingest.accept(event(`mixed-${i}`, 8_000 + i), [`mixed-${i}`, `message:${8_000 + i}`])));
    expect(outcomes.map((o) => o.status)).toEqual(['queued', 'queued', 'queued', 'spooled', 'queued', 'queued']);
    expect(await spool.size()).toBe(1);
    // The failed one's claims are released; the stored ones still refuse their copies.
    expect(await redis.exists(keys.dedupe('acme', 'mixed-3'), keys.dedupe('acme', 'message:8003'))).toBe(0);
    expect(await ingest.accept(event('mixed-0-again', 8_000), ['mixed-0-again', 'message:8000'])).toEqual({ status: 'duplicate', jobId: jobIdFor('acme', 'mixed-0') });
    vi.mocked(queue.add).mockRestore();
    expect(await ingest.drainSpool()).toBe(0);
    expect(await queue.getJob(jobIdFor('acme', 'mixed-3'))).toBeDefined();
    expect(await queue.getWaitingCount()).toBe(6);
  });

  /** An add that holds its first call until `release()`: a group "in flight" for as long as the test wants. */
  function holdFirstJobWrite() {
    const real = queue.add.bind(queue);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const writes = vi.spyOn(queue, 'add').mockImplementationOnce(async (name, data, opts) => {
      await held;
      return real(name, data, opts);
    });
    return { writes, release: () => release() };
  }
  const request = (id: string, n: number) => ({ jobId: jobIdFor('acme', id), data: event(id, n), dedupeKeys: [keys.dedupe('acme', id)] });
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

  it('lets the deliveries that arrive while a group is stored wait for it and leave as one group', async () => {
    const batcher = new EnqueueBatcher(redis, queue, { timeoutMs: 30_000, dedupeTtlS: 60, maxBatchJobs: 128, maxWaitMs: 60_000 });
    const claims = vi.spyOn(redis as unknown as { cgbClaimDedupeGroup: (...args: unknown[]) => Promise<unknown> }, 'cgbClaimDedupeGroup');
    const { writes, release } = holdFirstJobWrite();
    const first = batcher.submit(request('first', 1));
    await vi.waitFor(() => expect(writes).toHaveBeenCalledTimes(1), { timeout: 10_000 });
    // Three turns of the loop while the first group is in flight: without the wait, three groups.
    const later: Promise<unknown>[] = [];
    for (let turn = 0; turn < 3; turn += 1) {
      for (let i = 0; i < 5; i += 1) later.push(batcher.submit(request(`later-${turn}-${i}`, 100 + turn * 10 + i)));
      await nextTurn();
    }
    expect(claims).toHaveBeenCalledTimes(1);
    release();
    expect(await first).toEqual({ status: 'queued' });
    for (const outcome of await Promise.all(later)) expect(outcome).toEqual({ status: 'queued' });
    // The second group: one claim call for all 15 deliveries (one dedupe key each), then their adds.
    expect(claims).toHaveBeenCalledTimes(2);
    expect(claims.mock.calls[1]?.[0]).toBe(15);
    expect(writes).toHaveBeenCalledTimes(16);
    expect(await queue.getWaitingCount()).toBe(16);
  });

  it('does not hold the next group longer than maxWaitMs behind a group whose Redis call stalls', async () => {
    const batcher = new EnqueueBatcher(redis, queue, { timeoutMs: 60_000, dedupeTtlS: 60, maxBatchJobs: 128, maxWaitMs: 10 });
    const { writes, release } = holdFirstJobWrite();
    const stalled = batcher.submit(request('stalled', 1));
    await vi.waitFor(() => expect(writes).toHaveBeenCalledTimes(1), { timeout: 10_000 });
    // Stored and answered while the first group is still stalled (its call times out only after 60 s).
    expect(await batcher.submit(request('behind', 2))).toEqual({ status: 'queued' });
    expect(await queue.getJob(jobIdFor('acme', 'behind'))).toBeDefined();
    release();
    expect(await stalled).toEqual({ status: 'queued' });
  });
});
