import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import type { ServiceConfig } from '../../src/config/schema.js';
import { buildApp } from '../../src/http/app.js';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { redisKeys, type RedisKeys } from '../../src/redis/keys.js';
import { type SyncJobData } from '../../src/sync/job.js';
import { createSyncQueue, Ingest } from '../../src/queue/producer.js';
import { DiskSpool } from '../../src/queue/spool.js';
import { createRedis, waitForReady } from '../../src/redis/connection.js';
import { REDIS_URL, deletePrefix, testPrefix, testRedis } from './redis.js';

export const TEST_SECRET = 'kq3vZ8yTn6Lw2XfHc9RbPd4M';
export const TEST_URL_TOKEN = 'url-token-for-old-chatwoot';

export interface TestApp {
  app: FastifyInstance;
  config: ServiceConfig;
  /**
   * The sync queue for the test's own reads, on a `command` connection: the app's queue rides the
   * producer connection, whose 2 s command timeout is right for answering Chatwoot and wrong for a
   * test listing thousands of jobs on a busy machine ("Command timed out").
   */
  queue: Queue<SyncJobData>;
  redis: Redis;
  keys: RedisKeys;
  prefix: string;
  spool: DiskSpool;
  spoolDir: string;
  ingest: Ingest;
  metrics: Metrics;
  logLines: string[];
  close(): Promise<void>;
}

/** How long a test app's request may wait for the test Redis (a loaded 2-core machine took over 1.5 s). */
const BUSY_MACHINE_WAIT_MS = 10_000;

export interface TestAppOptions {
  env?: Record<string, string>;
  redisUrl?: string;
  clock?: () => number;
}

/** The receiver wired like server.ts does, on a prefix of its own, logs captured as JSON lines. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const prefix = testPrefix('app');
  const spoolDir = mkdtempSync(join(tmpdir(), 'cgb-spool-'));
  const config = loadConfig({
    HOOKS_FILE: undefined,
    REDIS_KEY_PREFIX: prefix,
    SPOOL_DIR: spoolDir,
    BODY_LIMIT_BYTES: '65536',
    HOOK_ID: 'acme',
    GLPI_API_URL: 'http://127.0.0.1:9/apirest.php',
    GLPI_USER_TOKEN: 'glpi-user-token-secret-value',
    CHATWOOT_WEBHOOK_SECRET: `rotated-new-secret,${TEST_SECRET}`,
    ...options.env,
  });
  const logLines: string[] = [];
  const logger: Logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  const keys = redisKeys(prefix);
  // On the test Redis a busy machine may take seconds to answer: no request of a test may fall
  // back to the spool or answer 503 for that, so every wait is long (a bound, never a pause).
  // Against an address where nothing listens (options.redisUrl), the short production waits.
  const slowOk = options.redisUrl === undefined;
  const redis = createRedis(options.redisUrl ?? REDIS_URL, 'producer', slowOk ? { commandTimeout: BUSY_MACHINE_WAIT_MS } : {});
  if (options.redisUrl === undefined) await waitForReady(redis, 5_000);
  const queue = createSyncQueue(redis, keys);
  queue.on('error', () => undefined);
  const spool = new DiskSpool(spoolDir);
  const metrics = createMetrics();
  const inspection = createRedis(options.redisUrl ?? REDIS_URL, 'command');
  const inspectionQueue = createSyncQueue(inspection, keys);
  inspectionQueue.on('error', () => undefined);
  const ingest = new Ingest({ queue, redis, keys, spool, metrics, logger, redisTimeoutMs: slowOk ? BUSY_MACHINE_WAIT_MS : 500 });
  const redisWaitMs = slowOk ? { readyPing: BUSY_MACHINE_WAIT_MS, readyState: BUSY_MACHINE_WAIT_MS, glpiWebhook: BUSY_MACHINE_WAIT_MS } : {};
  const app = await buildApp({ config, logger, ingest, redis, keys, queue, spool, metrics, clock: options.clock, redisWaitMs });
  return {
    app, config, queue: inspectionQueue, redis, keys, prefix, spool, spoolDir, ingest, metrics, logLines,
    async close() {
      ingest.close();
      await app.close();
      await queue.close().catch(() => undefined);
      await inspectionQueue.close().catch(() => undefined);
      redis.disconnect();
      inspection.disconnect();
      const cleaner = testRedis();
      await deletePrefix(cleaner, prefix);
      cleaner.disconnect();
      rmSync(spoolDir, { recursive: true, force: true });
    },
  };
}
