import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { redisKeys } from '../../src/redis/keys.js';
import { SYNC_QUEUE_NAME } from '../../src/queue/job.js';
import { type SyncJobData } from '../../src/sync/job.js';
import { DiskSpool } from '../../src/queue/spool.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { waitFor } from '../support/redis.js';
import { mapLimit, messageCreatedBody, RedisChild, signedHeaders } from './support.js';

/**
 * Chatwoot never retries, so "answered 2xx" must mean "will be synced". The real runtime (api
 * role) listens on a port; a private redis-server is SIGKILLed and restarted twice while signed
 * webhooks arrive; afterwards every 2xx answer's job id is in the queue exactly once.
 */

const SECRET = 'outage-secret-5b2c9d';
const DELIVERIES = 600;
const CONNECTIONS = 8;

describe('Redis stops and starts while webhooks arrive', () => {
  let redis: RedisChild;
  let runtime: Runtime | undefined;
  let spoolDir: string;
  const prefix = 'cgbrel';

  beforeAll(async () => {
    redis = await RedisChild.start();
    spoolDir = mkdtempSync(join(tmpdir(), 'cgb-outage-spool-'));
    const config = loadConfig({
      ROLE: 'api',
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: prefix,
      SPOOL_DIR: spoolDir,
      HOOK_ID: 'acme',
      GLPI_API_URL: 'http://127.0.0.1:9/apirest.php',
      GLPI_USER_TOKEN: 'outage-user-token',
      CHATWOOT_WEBHOOK_SECRET: SECRET,
    });
    runtime = await startRuntime(config, pino({ level: 'silent' }), { port: 0 });
  });

  afterAll(async () => {
    // Redis must be up for the runtime to close its queue cleanly; then nothing is left behind.
    await redis?.start().catch(() => undefined);
    await runtime?.close();
    await redis?.stop();
    rmSync(spoolDir, { recursive: true, force: true });
  });

  it('puts every 2xx answer in the queue exactly once, through the disk spool while Redis is down', async () => {
    const address = runtime?.address as string;
    let answered = 0;
    const answersReach = (n: number) => waitFor(() => (answered >= n ? true : undefined), `${n} answers`, 6_000, 10);

    // Outages are triggered by progress, never by the clock: step k starts once `at` answers are
    // in (so requests are in flight while Redis dies), and requests from index `gate` on wait
    // until it is done (so the next stretch of load really meets the new state).
    const steps = [
      { at: 90, gate: 100, run: () => redis.kill() },
      { at: 210, gate: 220, run: () => redis.start() },
      { at: 370, gate: 380, run: () => redis.kill() },
      { at: 470, gate: 480, run: () => redis.start() },
    ].map((step) => ({ ...step, done: undefined as Promise<void> | undefined }));
    const chaos = (async () => {
      for (const step of steps) {
        await answersReach(step.at);
        step.done = step.run();
        await step.done;
      }
    })();
    const gate = async (index: number) => {
      for (const step of steps) {
        if (index < step.gate) return;
        await waitFor(() => (step.done ? true : undefined), `chaos step at ${step.at}`, 6_000, 10);
        await step.done;
      }
    };

    const ids = Array.from({ length: DELIVERIES }, (_, i) => i);
    interface Answer {
      http: number;
      status?: string;
      id?: string;
      spooled?: boolean;
      error?: string;
      delivery?: string;
    }
    const answers = await mapLimit(ids, CONNECTIONS, async (i): Promise<Answer> => {
      await gate(i);
      const body = messageCreatedBody(7_000_000 + i, 1_000 + (i % 25));
      try {
        const res = await fetch(`${address}/webhooks/chatwoot/acme`, { method: 'POST', headers: signedHeaders(SECRET, body, `outage-${i}`), body });
        const json = (await res.json()) as Omit<Answer, 'http'>;
        return { http: res.status, ...json, delivery: `outage-${i}` };
      } catch (err) {
        return { http: 0, error: (err as Error).message };
      } finally {
        answered += 1;
      }
    });
    await chaos;

    const accepted = answers.filter((a) => a.http >= 200 && a.http < 300);
    const visibleFailures = answers.filter((a) => a.http < 200 || a.http >= 300);
    // Failures are allowed (Chatwoot would log them) but must be visible and not the norm.
    expect(visibleFailures.length, JSON.stringify(visibleFailures.slice(0, 5))).toBeLessThan(DELIVERIES / 10);
    expect(accepted.every((a) => a.http === 202 && a.status === 'queued' && typeof a.id === 'string')).toBe(true);
    const acceptedIds = accepted.map((a) => a.id as string);
    expect(new Set(acceptedIds).size).toBe(acceptedIds.length);
    // The outages really happened during the load: some answers came from the spool.
    expect(accepted.filter((a) => a.spooled === true).length).toBeGreaterThan(0);
    expect(accepted.filter((a) => a.spooled !== true).length).toBeGreaterThan(0);

    // The spool drains by itself once Redis is back.
    const spool = new DiskSpool(spoolDir);
    await waitFor(async () => ((await spool.size()) === 0 ? true : undefined), 'the spool to drain', 600, 100);

    const inspector = new Redis(redis.url, { maxRetriesPerRequest: 3 });
    const queue = new Queue<SyncJobData>(SYNC_QUEUE_NAME, { connection: inspector, prefix: redisKeys(prefix).bullPrefix });
    try {
      const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized', 'waiting-children']);
      const jobIds = jobs.map((j) => j.id as string);
      // Exactly once: no job missing, none twice, none that was not answered 2xx.
      expect(jobIds.length).toBe(new Set(jobIds).size);
      expect(new Set(jobIds)).toEqual(new Set(acceptedIds));
      // ...and each job carries the delivery that was answered with its id.
      const deliveryOf = new Map(accepted.map((a) => [a.id, a.delivery]));
      expect(jobs.filter((j) => j.data.deliveryId !== deliveryOf.get(j.id))).toEqual([]);
      expect(await spool.size()).toBe(0);
    } finally {
      await queue.close();
      inspector.disconnect();
    }
  });
});
