import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LockBusyError, ReplicationLagError } from '../../../src/errors/index.js';
import type { SyncJobData } from '../../../src/sync/job.js';
import { hasMessageMarker } from '../../../src/sync/markers.js';
import type { SyncOutcome, SyncProcessor } from '../../../src/sync/use-case.js';
import { HOOK_ID, at, jobData, messageEvent, startHarness, type SyncHarness } from '../support.js';

// The per-hook lock goes from one job of a hook to the next without a release (hook-lock.ts), the
// followup's intent comes with the context read and its record is sent without waiting
// (mapping-store.ts): what must still hold, through the runner, with several workers.

let h: SyncHarness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const slotOf = (conversationId: number, messageId: number) => h.redis.hget(`${h.keys.mapping(HOOK_ID)}:msgs:${conversationId}`, String(messageId));
const followupsFor = (messageId: number) => h.sim.state.followups.filter((f) => hasMessageMarker(f.content, messageId));

/** What the queue does with a job that could not take its hook's lock: it comes back later. */
async function runJob(processor: SyncProcessor, data: SyncJobData): Promise<SyncOutcome> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await processor.process(data);
    } catch (err) {
      if (!(err instanceof LockBusyError) || attempt >= 50) throw err;
    }
  }
}

/** Runs `jobs` with at most `concurrency` at a time, as a worker with WORKER_CONCURRENCY does. */
async function drain(processor: SyncProcessor, jobs: SyncJobData[], concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs.length) await runJob(processor, jobs[next++] as SyncJobData);
    }),
  );
}

describe('the hook lock handed over between jobs, with several workers', () => {
  it('makes one ticket per conversation and one followup per message when two workers share a hook, deliveries repeated', async () => {
    // Two workers (each its own lock, its own line), a small bound so that the lock goes back and forth.
    const workers = [h.makeProcessor({ lock: { handOverMaxJobs: 3 } }), h.makeProcessor({ lock: { handOverMaxJobs: 3 } })] as const;
    const conversations = [701, 702, 703, 704, 705, 706];
    const perWorker: SyncJobData[][] = [[], []];
    const messages: { conversationId: number; messageId: number }[] = [];
    let n = 0;
    for (let k = 0; k < 8; k++) {
      for (const id of conversations) {
        const messageId = 70_000 + id * 10 + k;
        messages.push({ conversationId: id, messageId });
        const payload = messageEvent({ id }, { id: messageId, content: `hand-over ${messageId}`, createdAt: at(n) });
        perWorker[n % 2]?.push(jobData(payload));
        // Every third message is delivered again, to the other worker.
        if (n % 3 === 0) perWorker[(n + 1) % 2]?.push(jobData(payload));
        n += 1;
      }
    }
    await Promise.all(workers.map((worker, i) => drain(worker, perWorker[i] ?? [], 8)));

    for (const id of conversations) {
      const tickets = h.sim.state.tickets.filter((t) => String(t.content).includes(`conversation:${id})`));
      expect(tickets, `tickets of conversation ${id}`).toHaveLength(1);
    }
    for (const { conversationId, messageId } of messages) {
      const slot = await slotOf(conversationId, messageId);
      const posted = followupsFor(messageId);
      // Either the ticket's content ('c') or exactly one followup, recorded (no intent left behind).
      if (slot === 'c') expect(posted, `message ${messageId}`).toHaveLength(0);
      else expect({ slot, posted: posted.map((f) => String(f.id)) }, `message ${messageId}`).toEqual({ slot, posted: [slot] });
    }
  });

  it('does not finish a job whose followup record was not stored (it was sent without waiting), and its retry posts nothing twice', async () => {
    const first = await h.run(messageEvent({ id: 720 }, { id: 72_001, createdAt: at(0) }));
    expect(first.ticketId).toBeGreaterThan(0);
    // A connection on which the record write (HSET <message> <followup id>) fails, everything else works.
    const failingRecord = new Proxy(h.redis, {
      get(target, prop) {
        if (prop === 'hset') {
          return (...args: unknown[]) =>
            args.length === 3 && /^\d+$/.test(String(args[2])) ? Promise.reject(new Error('connection lost')) : (target.hset as (...a: unknown[]) => unknown)(...args);
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const flaky = h.makeProcessor({ redis: failingRecord });
    const job = jobData(messageEvent({ id: 720 }, { id: 72_002, createdAt: at(1) }));
    await expect(flaky.process(job)).rejects.toThrow('connection lost');
    expect(followupsFor(72_002)).toHaveLength(1); // GLPI has it; Redis only has the intent
    expect(await slotOf(720, 72_002)).toMatch(/^\?/);

    const retried = await h.processor.process(job);
    expect(retried.action).toBe('followup-recovered');
    expect(followupsFor(72_002)).toHaveLength(1);
    expect(await slotOf(720, 72_002)).toBe(String(followupsFor(72_002)[0]?.id));
  });

  it('still waits for REDIS_WAIT_REPLICAS before the GLPI write when the intent came with the read', async () => {
    const first = await h.run(messageEvent({ id: 730 }, { id: 73_001, createdAt: at(0) }));
    expect(first.ticketId).toBeGreaterThan(0);
    // One replica more than this Redis has: the WAIT can never be satisfied.
    const replicas = Number(/connected_slaves:(\d+)/.exec(await h.redis.info('replication'))?.[1] ?? 0) + 1;
    const strict = h.makeProcessor({ replicaWait: { replicas, timeoutMs: 20 } });
    const job = jobData(messageEvent({ id: 730 }, { id: 73_002, createdAt: at(1) }));
    h.sim.resetCalls();
    await expect(strict.process(job)).rejects.toBeInstanceOf(ReplicationLagError);
    expect(h.sim.count('POST')).toBe(0);
    expect(await slotOf(730, 73_002)).toMatch(/^\?/);

    // The retry (replicas back) finds the intent, looks in GLPI, and posts once.
    const retried = await h.processor.process(job);
    expect(retried.action).toBe('followup-posted');
    expect(followupsFor(73_002)).toHaveLength(1);
  });
});
