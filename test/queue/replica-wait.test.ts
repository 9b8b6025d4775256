import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jobIdFor } from '../../src/queue/job.js';
import { type SyncJobData } from '../../src/sync/job.js';
import { Ingest } from '../../src/queue/producer.js';
import { startTestApp, type TestApp } from '../support/app.js';

/**
 * REDIS_WAIT_REPLICAS: a 2xx only once a replica holds the job. The test Redis has no replica,
 * so WAIT always comes back short: the event must then be spooled as well (never answered as
 * merely "queued"), and the spool must keep it until a drain can confirm replication.
 */

function event(delivery: string, messageId: number): SyncJobData {
  return { hookId: 'acme', event: 'message_created', deliveryId: delivery, receivedAt: new Date(0).toISOString(), conversationId: 7, payload: { id: messageId } };
}

describe('waiting for replicas before answering', () => {
  let t: TestApp;
  let ingest: Ingest | undefined;

  beforeEach(async () => {
    t = await startTestApp();
  });

  afterEach(async () => {
    ingest?.close();
    await t.close();
  });

  const build = (waitReplicas: number) =>
    new Ingest({ queue: t.queue, redis: t.redis, keys: t.keys, spool: t.spool, metrics: t.metrics, logger: pino({ level: 'silent' }), waitReplicas, waitReplicasTimeoutMs: 20 });

  it('answers queued without waiting when REDIS_WAIT_REPLICAS is 0', async () => {
    ingest = build(0);
    expect(await ingest.accept(event('no-wait-1', 1), ['no-wait-1'])).toEqual({ status: 'queued', jobId: jobIdFor('acme', 'no-wait-1') });
    expect(await t.spool.size()).toBe(0);
  });

  it('spools the event too when no replica confirms it, and keeps it spooled while none does', async () => {
    ingest = build(1);
    const outcome = await ingest.accept(event('wait-1', 2), ['wait-1']);
    expect(outcome).toEqual({ status: 'spooled', jobId: jobIdFor('acme', 'wait-1') });
    // The job is on the master anyway; the spooled copy has the same id, so there is one job.
    expect((await t.queue.getJob(jobIdFor('acme', 'wait-1')))?.data.deliveryId).toBe('wait-1');
    expect(await t.spool.size()).toBe(1);
    // The claim stays: the same delivery again is a duplicate of that job, not a second one.
    expect(await ingest.accept(event('wait-1', 2), ['wait-1'])).toEqual({ status: 'duplicate', jobId: jobIdFor('acme', 'wait-1') });
    // A drain cannot confirm replication either: the file stays until a replica has the job.
    expect(await ingest.drainSpool()).toBe(1);
    ingest.close();
    ingest = build(0);
    expect(await ingest.drainSpool()).toBe(0);
    expect(await t.queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
  });
});
