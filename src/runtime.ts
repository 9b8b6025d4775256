import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ServiceConfig } from './config/schema.js';
import { buildApp } from './http/app.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { redisKeys, type RedisKeys, type SyncJobData } from './queue/job.js';
import { createSyncQueue, Ingest } from './queue/producer.js';
import { DiskSpool } from './queue/spool.js';
import { createRedis, waitForReady } from './redis.js';

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
  const keys: RedisKeys = redisKeys(config.redisKeyPrefix);
  const metrics = createMetrics();
  const closers: Closer[] = [];
  const receives = config.role === 'all' || config.role === 'api';

  const producer = createRedis(config.redisUrl, 'producer');
  closers.push({ name: 'redis-producer', close: () => producer.quit().catch(() => producer.disconnect()) });
  if (!(await waitForReady(producer, 5_000))) {
    logger.warn({ redisUrl: redactRedisUrl(config.redisUrl) }, 'Redis is not reachable yet: accepted webhooks go to the disk spool until it is');
  }
  const queue: Queue<SyncJobData> = createSyncQueue(producer, keys);
  queue.on('error', (err) => logger.debug({ err: { message: err.message } }, 'queue connection error'));
  closers.unshift({ name: 'queue', close: () => queue.close() });
  const spool = new DiskSpool(config.spoolDir);

  let ingest: Ingest | undefined;
  if (receives) {
    ingest = new Ingest({ queue, redis: producer, keys, spool, metrics, logger });
    const pending = await spool.size();
    if (pending > 0) {
      logger.info({ pending }, 'events left in the disk spool by a previous run: draining');
      ingest.scheduleDrain(0);
    }
    const stoppable = ingest;
    closers.unshift({ name: 'ingest', close: () => stoppable.close() });
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

/** Redis URL without its password, for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '[redacted]';
    return parsed.toString();
  } catch {
    return '[unparseable REDIS_URL]';
  }
}

