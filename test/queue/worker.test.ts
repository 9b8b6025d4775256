import { Backoffs, Queue, type BackoffOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listFailed, replay } from '../../src/ops/queue-ops.js';
import { SYNC_QUEUE_NAME, jobIdFor } from '../../src/queue/job.js';
import { type SyncJobData } from '../../src/sync/job.js';
import { SYNC_JOB_OPTIONS } from '../../src/queue/producer.js';
import { createSyncWorker, type SyncJobDataWithFailure, type SyncWorker } from '../../src/queue/worker.js';
import { HookLock } from '../../src/sync/hook-lock.js';
import { gate } from '../support/gate.js';
import { glpiDecode } from '../support/glpi-simulator/index.js';
import { REDIS_URL, waitFor } from '../support/redis.js';
import { HOOK_ID, at, conversationEvent, jobData, messageEvent, startHarness, type SyncHarness } from '../sync/support.js';

let h: SyncHarness;
let queue: Queue<SyncJobData>;
let connection: Redis;
let worker: SyncWorker | undefined;

/** The producer's backoff with a short base step: fast retries for tests. */
const PRODUCER_BACKOFF = SYNC_JOB_OPTIONS.backoff as BackoffOptions;
const JOB_OPTIONS = { attempts: 5, backoff: { ...PRODUCER_BACKOFF, delay: 20 }, removeOnComplete: false, removeOnFail: false };

beforeAll(async () => {
  h = await startHarness();
  connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  queue = new Queue<SyncJobData>(SYNC_QUEUE_NAME, { connection: new Redis(REDIS_URL), prefix: h.keys.bullPrefix });
});
afterEach(async () => {
  await worker?.close();
  worker = undefined;
  h.sim.clearFaults();
  h.sim.setRight('super-admin', 'Ticket', 'create', true);
});
afterAll(async () => {
  await queue?.obliterate({ force: true }).catch(() => undefined);
  await queue?.close();
  connection?.disconnect();
  await h?.close();
});

function startWorker(concurrency = 1, processor = h.processor): Promise<SyncWorker> {
  worker = createSyncWorker({
    connection,
    prefix: h.prefix,
    concurrency,
    processor,
    logger: pino({ level: 'silent' }),
    metrics: h.metrics,
    lockRetryDelayMs: 20,
    backoffMaxMs: 200,
    closeTimeoutMs: 5_000,
  });
  return worker.start().then(() => worker as SyncWorker);
}

async function add(payload: Record<string, unknown>, options: Partial<typeof JOB_OPTIONS> = {}) {
  const data = jobData(payload);
  return queue.add(data.event, data, { ...JOB_OPTIONS, ...options, jobId: jobIdFor(data.hookId, data.deliveryId) });
}

async function drained(): Promise<void> {
  await waitFor(async () => {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    return Object.values(counts).every((n) => n === 0) ? true : undefined;
  }, 'queue drained', 1_200);
}

let nextConversation = 500;

describe('sync worker', () => {
  it('retries with backoff while GLPI is down and lands the event when it is back', async () => {
    nextConversation += 1;
    const c = { id: nextConversation, lastMessage: { id: 90_001, createdAt: at(0) } };
    h.sim.failAll({ kind: 'status', status: 503 });
    await startWorker();
    const job = await add(conversationEvent('conversation_created', c));
    await waitFor(async () => ((await queue.getJob(job.id!))!.attemptsMade >= 2 ? true : undefined), 'two failed attempts');
    expect(await job.getState()).not.toBe('failed');
    h.sim.clearFaults();
    await waitFor(async () => ((await job.getState()) === 'completed' ? true : undefined), 'job completed');
    expect(h.sim.state.tickets.filter((t) => glpiDecode(String(t.content)).includes(`conversation:${c.id})`))).toHaveLength(1);
    const state = await h.redis.hgetall(h.keys.hookState(HOOK_ID));
    expect(state.lastGlpiSuccessAt).toBeDefined();
    expect(state.lastErrorCode).toBe('GLPI_SERVER_ERROR');
    // The success after the errors is written at once, so /ready shows the hook healthy again.
    expect(Date.parse(state.lastGlpiSuccessAt!)).toBeGreaterThanOrEqual(Date.parse(state.lastErrorAt!));
  });

  it('still retries a job the previous release enqueued with its own "jitter" backoff, capped at backoffMaxMs', async () => {
    nextConversation += 1;
    const c = { id: nextConversation, lastMessage: { id: 90_006, createdAt: at(0) } };
    h.sim.failAll({ kind: 'status', status: 503 });
    await startWorker();
    // A type BullMQ does not know, and a base step of an hour: only the legacy strategy's cap
    // (backoffMaxMs: 200) lets the job come back within the wait below.
    const job = await add(conversationEvent('conversation_created', c), { backoff: { type: 'jitter', delay: 3_600_000 } });
    await waitFor(async () => ((await queue.getJob(job.id!))!.attemptsMade >= 2 ? true : undefined), 'two failed attempts');
    expect(await job.getState()).not.toBe('failed');
    h.sim.clearFaults();
    await waitFor(async () => ((await job.getState()) === 'completed' ? true : undefined), 'job completed');
    expect(h.sim.state.tickets.filter((t) => glpiDecode(String(t.content)).includes(`conversation:${c.id})`))).toHaveLength(1);
  });

  it('stores the failure typed when a retryable error outlasts the attempts', async () => {
    nextConversation += 1;
    const c = { id: nextConversation, lastMessage: { id: 90_007, createdAt: at(0) } };
    h.sim.failAll({ kind: 'status', status: 503 });
    await startWorker();
    const job = await add(conversationEvent('conversation_created', c), { attempts: 2 });
    await waitFor(async () => ((await job.getState()) === 'failed' ? true : undefined), 'job failed');
    const failed = (await queue.getJob(job.id!))!;
    expect(failed.attemptsMade).toBe(2);
    expect((failed.data as SyncJobDataWithFailure).lastError).toMatchObject({ code: 'GLPI_SERVER_ERROR', disposition: 'retry', advice: expect.stringMatching(/5xx/) as unknown });
    expect(failed.failedReason).toMatch(/^GLPI_SERVER_ERROR: /);
    const [listed] = (await listFailed(queue, { hookId: HOOK_ID })).events.filter((e) => e.jobId === job.id);
    expect(listed).toMatchObject({ code: 'GLPI_SERVER_ERROR', advice: expect.stringMatching(/5xx/) as unknown });
    await job.remove();
  });

  it('fails a permanent GLPI error at once with its code and advice, and replays after the fix', async () => {
    nextConversation += 1;
    const c = { id: nextConversation, lastMessage: { id: 90_002, createdAt: at(0) } };
    h.sim.setRight('super-admin', 'Ticket', 'create', false);
    await startWorker();
    const job = await add(conversationEvent('conversation_created', c));
    await waitFor(async () => ((await job.getState()) === 'failed' ? true : undefined), 'job failed');
    const failed = (await queue.getJob(job.id!))!;
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toContain('ERROR_GLPI_ADD');
    expect((failed.data as SyncJobDataWithFailure).lastError).toMatchObject({ code: 'ERROR_GLPI_ADD', disposition: 'fail' });
    const [listed] = (await listFailed(queue, { hookId: HOOK_ID })).events.filter((e) => e.jobId === job.id);
    expect(listed?.code).toBe('ERROR_GLPI_ADD');
    expect(listed?.advice).toMatch(/rights/);
    expect((await h.redis.hgetall(h.keys.hookState(HOOK_ID))).lastErrorAdvice).toMatch(/rights/);

    h.sim.setRight('super-admin', 'Ticket', 'create', true);
    expect((await replay(queue, { jobId: job.id! })).replayed).toEqual([job.id]);
    await waitFor(async () => ((await job.getState()) === 'completed' ? true : undefined), 'replayed job completed');
  });

  it('fails a poison job (a bug meeting its payload) at once with advice, without blaming GLPI, and replays it', async () => {
    nextConversation += 1;
    const c = { id: nextConversation, lastMessage: { id: 90_005, createdAt: at(0) } };
    // A bug meeting the payload inside the sync: the URIError a malformed attachment URL raised,
    // here thrown where the sync first writes to GLPI.
    let poisoned = true;
    const poisonedGlpi = new Proxy(h.glpi, {
      get: (target, property, receiver) =>
        property === 'addItem' && poisoned
          ? () => Promise.resolve().then(() => decodeURIComponent('https://chat.example.com/%E0%A4%A'))
          : Reflect.get(target, property, receiver),
    });
    const poisonProcessor = h.makeProcessor({ glpiFor: () => poisonedGlpi });
    await h.redis.del(h.keys.hookState(HOOK_ID));
    await startWorker(1, poisonProcessor);
    const job = await add(conversationEvent('conversation_created', c));
    await waitFor(async () => ((await job.getState()) === 'failed' ? true : undefined), 'poison job failed');
    const failed = (await queue.getJob(job.id!))!;
    expect(failed.attemptsMade).toBe(1);
    expect(failed.failedReason).toContain('PROGRAMMING_ERROR');
    const [listed] = (await listFailed(queue, { hookId: HOOK_ID })).events.filter((e) => e.jobId === job.id);
    expect(listed?.code).toBe('PROGRAMMING_ERROR');
    expect(listed?.advice).toMatch(/replay/);
    // GLPI did nothing wrong: /ready must not say it did.
    expect((await h.redis.hgetall(h.keys.hookState(HOOK_ID))).lastErrorAt).toBeUndefined();

    poisoned = false;
    expect((await replay(queue, { jobId: job.id! })).replayed).toEqual([job.id]);
    await waitFor(async () => ((await job.getState()) === 'completed' ? true : undefined), 'replayed job completed');
  });

  it('makes a job wait while another worker holds the hook lock, then completes it', async () => {
    nextConversation += 1;
    const c = { id: nextConversation, lastMessage: { id: 90_003, createdAt: at(0) } };
    const other = new HookLock(h.redis, h.keys, { ttlMs: 2_000, extendThresholdMs: 500, acquireWaitMs: 0 });
    const holding = gate();
    const holder = other.run(HOOK_ID, () => holding.pass());
    await holding.reached;
    const busyProcessor = h.makeProcessor({ lock: { acquireWaitMs: 0, ttlMs: 2_000, extendThresholdMs: 500 } });
    await startWorker(1, busyProcessor);
    const job = await add(conversationEvent('conversation_created', c));
    await waitFor(async () => ((await queue.getJob(job.id!))!.attemptsStarted >= 2 ? true : undefined), 'job delayed by the busy lock');
    expect(await job.getState()).not.toBe('completed');
    holding.release();
    await holder;
    await waitFor(async () => {
      const state = await job.getState();
      if (state === 'failed') throw new Error(`failed: ${(await queue.getJob(job.id!))?.failedReason}`);
      return state === 'completed' ? true : undefined;
    }, 'job completed after the lock was freed', 100);
    // One real attempt: the hand-backs while the lock was busy used none of the attempt budget.
    expect((await queue.getJob(job.id!))!.attemptsMade).toBe(1);
  });

  it('close lets an in-flight job finish and leaves the hook lock free', async () => {
    nextConversation += 1;
    const c = { id: nextConversation, lastMessage: { id: 90_004, createdAt: at(0) } };
    h.sim.setLatency(150);
    try {
      const running = await startWorker();
      const job = await add(conversationEvent('conversation_created', c));
      await waitFor(async () => ((await job.getState()) === 'active' ? true : undefined), 'job active');
      await running.close();
      worker = undefined;
      expect(await job.getState()).toBe('completed');
      expect(await h.redis.exists(h.keys.lock(HOOK_ID))).toBe(0);
    } finally {
      h.sim.setLatency(0);
    }
  });

  it('200 shuffled, partly duplicated events for 20 conversations at concurrency 10: 20 tickets, one followup per message, in order', async () => {
    const conversations = Array.from({ length: 20 }, (_, i) => ({ id: 1_000 + i, contact: { id: 20_000 + i, name: `Client ${i}`, email: `client${i}@example.org` } }));
    const payloads: Record<string, unknown>[] = [];
    const expected = new Map<number, number[]>();
    for (const c of conversations) {
      const messages = Array.from({ length: 8 }, (_, k) => ({
        id: c.id * 100 + k,
        createdAt: at(k * 30),
        type: k % 3 === 2 ? ('outgoing' as const) : ('incoming' as const),
        content: `conv ${c.id} msg ${k}`,
      }));
      const first = messages[0]!;
      const spec = { ...c, lastMessage: first };
      expected.set(c.id, messages.slice(1).map((m) => m.id));
      payloads.push(conversationEvent('conversation_created', spec));
      for (const m of messages) payloads.push(messageEvent(spec, m));
      // Duplicates: a second delivery of the conversation and of one message.
      payloads.push(conversationEvent('conversation_created', spec));
    }
    while (payloads.length < 200) payloads.push(payloads[Math.floor(Math.random() * payloads.length)]!);
    payloads.sort(() => Math.random() - 0.5);
    expect(payloads).toHaveLength(200);

    await queue.addBulk(
      payloads.map((p) => {
        const data = jobData(p);
        return { name: data.event, data, opts: { ...JOB_OPTIONS, jobId: jobIdFor(data.hookId, data.deliveryId) } };
      }),
    );
    await startWorker(10);
    await drained();
    const failedJobs = await queue.getFailed(0, 2);
    expect(failedJobs.map((j) => j.failedReason)).toEqual([]);

    for (const c of conversations) {
      const tickets = h.sim.state.tickets.filter((t) => glpiDecode(String(t.content)).includes(`conversation:${c.id})`));
      expect(tickets, `tickets of conversation ${c.id}`).toHaveLength(1);
      const followups = h.sim.followupsOf(tickets[0]!.id);
      const ids = followups.map((f) => Number(/data-chatwoot-message-id="(\d+)"/.exec(glpiDecode(String(f.content)))?.[1]));
      expect(ids, `followups of conversation ${c.id}`).toEqual(expected.get(c.id));
    }
  });
});

describe('the producer\'s backoff (BullMQ\'s own)', () => {
  it('grows exponentially, keeps at least half of each step and spreads the rest', () => {
    const baseMs = PRODUCER_BACKOFF.delay!;
    for (let attempt = 1; attempt <= 6; attempt += 1) {
      const stepMs = baseMs * 2 ** (attempt - 1);
      // BullMQ's own calculation; its built-in strategies never look at the job.
      const delays = Array.from({ length: 50 }, () => Backoffs.calculate(PRODUCER_BACKOFF, attempt, new Error('x'), undefined as never) as number);
      expect(Math.min(...delays), `attempt ${attempt}`).toBeGreaterThanOrEqual(stepMs / 2);
      expect(Math.max(...delays), `attempt ${attempt}`).toBeLessThanOrEqual(stepMs);
      expect(new Set(delays).size, `attempt ${attempt} is jittered`).toBeGreaterThan(1);
    }
  });
});
