import { resolve } from 'node:path';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { DEFAULTS } from './config/defaults.js';
import type { ServiceConfig } from './config/schema.js';
import { publishFingerprint } from './config/fingerprint.js';
import { ConfigError } from './errors/index.js';
import { buildApp } from './http/app.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { keyOptionsFor, redisKeys, type RedisKeys } from './redis/keys.js';
import { type SyncJobData } from './sync/job.js';
import { createSyncQueue, Ingest } from './queue/producer.js';
import { DiskSpool, SPOOL_DIR_ADVICE } from './queue/spool.js';
import { createRedis, describeRedis, waitForReady } from './redis/connection.js';
import { createAttachmentFetcher } from './chatwoot/attachments.js';
import { createChatwootClients } from './chatwoot/api-client.js';
import { createWriteBack, writeBackSeams } from './sync/chatwoot-to-glpi/write-back.js';
import { createGlpiClients, glpiMetricsObserver, type GlpiClients } from './glpi/registry.js';
import { createSyncWorker } from './queue/worker.js';
import type { HookLockOptions } from './sync/hook-lock.js';
import { createSyncProcessor } from './sync/runner/processor.js';
import { syncPollSchedules } from './queue/glpi-poll.js';
import { createEchoCheck } from './sync/glpi-to-chatwoot/echo.js';

export interface Runtime {
  app: FastifyInstance;
  /** "http://host:port" the app listens on. */
  address: string;
  metrics: Metrics;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Listen on this port instead of config.port (tests and benchmarks use 0). */
  port?: number;
  /** Worker tuning for tests (short stall detection, quick lock retries, short hook-lock TTL). */
  worker?: {
    lockRetryDelayMs?: number;
    closeTimeoutMs?: number;
    lockDurationMs?: number;
    stalledIntervalMs?: number;
    backoffMaxMs?: number;
    hookLock?: HookLockOptions;
  };
}

interface Closer {
  name: string;
  close(): Promise<unknown> | void;
}

/**
 * The composition root: builds every connection and service the role needs, once, and knows the
 * order to close them in (stop accepting, finish jobs, release GLPI sessions, then Redis).
 */
export async function startRuntime(config: ServiceConfig, logger: Logger, options: RuntimeOptions = {}): Promise<Runtime> {
  const keys: RedisKeys = redisKeys(config.redisKeyPrefix, keyOptionsFor(config.redis));
  const metrics = createMetrics();
  const closers: Closer[] = [];
  const receives = config.role === 'all' || config.role === 'api';
  const spool = new DiskSpool(config.spoolDir);
  if (receives) await checkSpool(spool, config.spoolDir);

  const producer = createRedis(config.redis, 'producer');
  closers.push({ name: 'redis-producer', close: () => producer.quit().catch(() => producer.disconnect()) });
  const redisUp = await waitForReady(producer, DEFAULTS.startRedisWaitMs);
  if (!redisUp) {
    logger.warn({ redis: describeRedis(config.redis) }, 'Redis is not reachable yet: accepted webhooks go to the disk spool until it is');
  }
  // doctor and replay compare this to their own configuration and say "restart" when it differs;
  // published again on every reconnect (Redis may have restarted empty).
  const publish = () =>
    publishFingerprint(producer, keys.configFingerprint, config).catch((err: unknown) =>
      logger.warn({ err: { message: (err as Error).message } }, 'could not publish the configuration fingerprint'),
    );
  producer.on('ready', () => void publish());
  if (redisUp) await publish();
  const queue: Queue<SyncJobData> = createSyncQueue(producer, keys);
  queue.on('error', (err) => logger.debug({ err: { message: err.message } }, 'queue connection error'));
  closers.unshift({ name: 'queue', close: () => queue.close() });

  let ingest: Ingest | undefined;
  if (receives) {
    ingest = new Ingest({ queue, redis: producer, keys, spool, metrics, logger, waitReplicas: config.redisWaitReplicas, waitReplicasTimeoutMs: config.redisWaitTimeoutMs });
    const pending = await spool.size();
    if (pending > 0) {
      logger.info({ pending }, 'events left in the disk spool by a previous run: draining');
      ingest.scheduleDrain(0);
    }
    const stoppable = ingest;
    closers.unshift({ name: 'ingest', close: () => stoppable.close() });
  }

  if (config.role === 'all' || config.role === 'worker') {
    const worker = startWorkerRole(config, logger, keys, metrics, options, queue);
    // Closed after the HTTP server and before Redis: in-flight jobs finish (or are handed back),
    // hook locks are released, then GLPI sessions are killed.
    closers.unshift(...worker.closers);
    if (redisUp) {
      await worker.started;
    } else {
      // Redis is down: the worker waits for it in the background, so that the receiver (ROLE=all)
      // listens at once, answers /health, spools webhooks to disk and says /ready 503 meanwhile.
      // Chatwoot never retries: a webhook refused now would be lost for good.
      logger.warn('the sync worker waits for Redis in the background');
      worker.started.then(
        () => logger.info('Redis reachable: the sync worker is running'),
        (err: unknown) => logger.error({ err: { message: (err as Error).message } }, 'the sync worker could not start'),
      );
    }
  }

  const app = await buildApp({ config, logger, ingest, redis: producer, keys, queue, spool, metrics });
  // The app closes first: no new webhooks while the rest shuts down.
  closers.unshift({ name: 'http', close: () => app.close() });
  const address = await app.listen({ port: options.port ?? config.port, host: config.host });
  logger.info({ address, role: config.role, hooks: [...config.hooks.keys()] }, 'chatwoot-glpi-bridge started');

  return {
    app,
    address,
    metrics,
    async close() {
      for (const closer of closers) {
        try {
          await closer.close();
        } catch (err) {
          logger.warn({ err: { message: (err as Error).message }, part: closer.name }, 'error while closing');
        }
      }
    },
  };
}

function startWorkerRole(
  config: ServiceConfig,
  logger: Logger,
  keys: RedisKeys,
  metrics: Metrics,
  options: RuntimeOptions,
  queue: Queue<SyncJobData>,
): { closers: Closer[]; started: Promise<void> } {
  const command = createRedis(config.redis, 'command');
  const workerConnection = createRedis(config.redis, 'worker');
  const glpi: GlpiClients = createGlpiClients(config.hooks.values(), {
    logger,
    observer: (hookId) => glpiMetricsObserver(metrics, hookId),
  });
  const chatwoot = createChatwootClients(config.hooks.values(), { metrics });
  // The write-back's Chatwoot calls run after the job has passed the hook's lock on, so its
  // in-place retries (DEFAULTS.writeBack) hold up only this job's acknowledgement, never the hook's
  // other jobs. What still fails is parked and the timer below retries it (claimed: one worker).
  const writeBack = createWriteBack({ redis: command, keyPrefix: config.redisKeyPrefix, keyOptions: keys.options, clientFor: (id) => chatwoot.get(id), logger });
  const attachments = createAttachmentFetcher();
  const { hookLock, ...workerTuning } = options.worker ?? {};
  const seams = writeBackSeams(writeBack);
  // Both directions on one runner: the hook's jobs, webhooks and polls, wait in one line for its lock.
  const processor = createSyncProcessor({
    redis: command,
    keys,
    replicaWait: { replicas: config.redisWaitReplicas, timeoutMs: config.redisWaitTimeoutMs },
    hooks: config.hooks,
    glpiFor: (hookId) => glpi.get(hookId),
    logger,
    metrics,
    ...seams,
    // Both directions' own writes coming back as webhooks, in one check (one Redis round trip at most).
    isOwnEcho: createEchoCheck(writeBack, command, keys),
    fetchAttachment: (hook, attachment, request) => attachments.fetch(hook, attachment, request),
    lock: hookLock,
    glpiToChatwoot: { chatwootFor: (hookId) => chatwoot.get(hookId) },
  });
  const worker = createSyncWorker({
    connection: workerConnection,
    prefix: config.redisKeyPrefix,
    keyOptions: keys.options,
    concurrency: config.workerConcurrency,
    processor,
    logger,
    metrics,
    ...workerTuning,
  });
  const started = worker.start().then(() =>
    syncPollSchedules(queue, config.hooks.values(), logger).catch((err: unknown) =>
      logger.error({ err: { message: (err as Error).message } }, 'GLPI -> Chatwoot polling could not be scheduled; restart the worker'),
    ),
  );

  // Write-backs Chatwoot refused for a transient reason are parked; retry them now and then.
  // A round still running (a slow Chatwoot) is not started again on top of itself.
  const retrying = new Set<string>();
  const retryTimer = setInterval(() => {
    for (const hook of config.hooks.values()) {
      if (hook.chatwoot.api === undefined || retrying.has(hook.id)) continue;
      retrying.add(hook.id);
      writeBack
        .retryPending(hook)
        .catch((err: unknown) => logger.warn({ hookId: hook.id, err: { message: (err as Error).message } }, 'retrying parked write-backs failed'))
        .finally(() => retrying.delete(hook.id));
    }
  }, DEFAULTS.writeBack.retryPendingEveryMs);
  retryTimer.unref();

  return {
    started,
    closers: [
      // First: a download in flight is aborted and its job handed back, so the worker's grace
      // period below never waits on a customer's file.
      { name: 'attachments', close: () => attachments.close() },
      { name: 'worker', close: () => worker.close() },
      { name: 'write-back-timer', close: () => clearInterval(retryTimer) },
      { name: 'glpi-sessions', close: () => glpi.closeAll() },
      { name: 'chatwoot-clients', close: () => chatwoot.closeAll() },
      { name: 'redis-worker', close: () => workerConnection.quit().catch(() => workerConnection.disconnect()) },
      { name: 'redis-command', close: () => command.quit().catch(() => command.disconnect()) },
    ],
  };
}

/**
 * The spool is where accepted webhooks go while Redis is down: finding out then that it cannot be
 * written loses them (Chatwoot never retries), so the receiver refuses to start instead.
 */
async function checkSpool(spool: DiskSpool, dir: string): Promise<void> {
  try {
    await spool.checkWritable();
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(
      `SPOOL_DIR: ${resolve(dir)} cannot be written (${reason})`,
      SPOOL_DIR_ADVICE,
    );
  }
}

