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
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { glpiDecode, startGlpiSimulator, type GlpiSimulator } from '../support/glpi-simulator/index.js';
import { waitFor } from '../support/redis.js';
import { checkGlpiResult, mapLimit, RedisChild, signedHeaders, syncScenario } from './support.js';

/**
 * GLPI goes away for a while (every call answers 503) while events keep coming: the jobs back
 * off and retry, nothing fails for good, and once GLPI is back every conversation ends up with
 * one ticket and every message exactly once, in Chatwoot's order. "Minutes" are compressed by a
 * small backoff cap; the outage ends when every job has failed at least twice, not after a time.
 */

const SECRET = 'glpi-outage-secret-8d1e';
const PREFIX = 'cgbrelglpi';

describe('a GLPI outage', () => {
  let redis: RedisChild;
  let sim: GlpiSimulator;
  let runtime: Runtime | undefined;
  let spoolDir: string;
  let inspector: Redis;
  let queue: Queue<SyncJobData>;

  beforeAll(async () => {
    redis = await RedisChild.start();
    sim = await startGlpiSimulator({ latencyMs: 2 });
    spoolDir = mkdtempSync(join(tmpdir(), 'cgb-glpi-outage-'));
    const config = loadConfig({
      ROLE: 'all',
      HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: PREFIX,
      SPOOL_DIR: spoolDir,
      WORKER_CONCURRENCY: '4',
      GLPI_TIMEOUT_MS: '2000',
      HOOK_ID: 'acme',
      GLPI_API_URL: sim.url,
      GLPI_USER_TOKEN: 'admin-user-token',
      CHATWOOT_WEBHOOK_SECRET: SECRET,
    });
    runtime = await startRuntime(config, pino({ level: 'silent' }), {
      port: 0,
      worker: { backoffMaxMs: 400, lockRetryDelayMs: 50, lockDurationMs: 5_000, stalledIntervalMs: 2_000 },
    });
    inspector = new Redis(redis.url, { maxRetriesPerRequest: 3 });
    queue = new Queue<SyncJobData>(SYNC_QUEUE_NAME, { connection: inspector, prefix: redisKeys(PREFIX).bullPrefix });
  });

  afterAll(async () => {
    sim?.clearFaults();
    await queue?.close();
    inspector?.disconnect();
    await runtime?.close();
    await sim?.close();
    await redis?.stop();
    rmSync(spoolDir, { recursive: true, force: true });
  });

  it('backs off during the outage, then completes every job, in order per conversation, with nothing failed', async () => {
    const scenario = syncScenario({ conversations: 6, perConversation: 5 });
    const post = async (body: string) => {
      const res = await fetch(`${runtime?.address}/webhooks/chatwoot/acme`, { method: 'POST', headers: signedHeaders(SECRET, body), body });
      return res.status;
    };

    // A first message per conversation goes through while GLPI is up: tickets exist.
    const before = scenario.filter((m) => m.index === 0);
    expect(await mapLimit(before, 4, (m) => post(m.body))).toEqual(before.map(() => 202));
    await waitFor(async () => ((await queue.getCompletedCount()) === before.length ? true : undefined), 'the first messages to sync', 600, 50);

    // GLPI goes down; the rest of the conversation arrives during the outage.
    sim.failAll({ kind: 'status', status: 503 });
    const during = scenario.filter((m) => m.index > 0);
    expect(await mapLimit(during, 4, (m) => post(m.body))).toEqual(during.map(() => 202));
    await waitFor(
      async () => {
        const jobs = await queue.getJobs(['waiting', 'delayed', 'active', 'prioritized']);
        return jobs.length === during.length && jobs.every((j) => j.attemptsMade >= 2) ? true : undefined;
      },
      'every job to have failed twice against the outage',
      1_200,
      50,
    );
    expect(await queue.getFailedCount()).toBe(0);

    // GLPI is back: everything completes.
    sim.clearFaults();
    await waitFor(async () => ((await queue.getCompletedCount()) === scenario.length ? true : undefined), 'every job to complete', 1_200, 50);
    expect(await queue.getFailedCount()).toBe(0);
    expect(checkGlpiResult(sim, scenario, glpiDecode)).toEqual([]);
    // The outage was real (GLPI refused calls), and no message became a second ticket or followup.
    expect(sim.calls.filter((c) => c.status === 503).length).toBeGreaterThanOrEqual(during.length * 2);
    expect(sim.state.tickets).toHaveLength(before.length);
    expect(sim.state.followups).toHaveLength(during.length);

    // Shutting down leaves no GLPI session open.
    await runtime?.close();
    runtime = undefined;
    expect(sim.state.sessions).toEqual([]);
  });
});
