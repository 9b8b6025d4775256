import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Queue } from 'bullmq';
import type { RedisConnection } from '../redis/connection.js';
import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import type { ServiceConfig } from '../config/schema.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RedisKeys } from '../redis/keys.js';
import type { SyncJobData } from '../sync/job.js';
import type { Ingest } from '../queue/producer.js';
import type { DiskSpool } from '../queue/spool.js';
import { adminRoutes } from './plugins/admin.js';
import { chatwootWebhooks } from './plugins/chatwoot-webhooks.js';
import { glpiWebhooks } from './plugins/glpi-webhooks.js';
import { healthRoutes } from './plugins/health.js';
import { metricsRoutes } from './plugins/metrics.js';

interface AppDeps {
  config: ServiceConfig;
  logger: Logger;
  /** Given for the api role: the webhook route is registered only then (the worker serves health only). */
  ingest?: Ingest;
  /** Producer connection: /ready pings it, the GLPI webhook route dedupes on it. */
  redis: RedisConnection;
  keys: RedisKeys;
  queue: Queue<SyncJobData>;
  spool: DiskSpool;
  metrics: Metrics;
  clock?: () => number;
  signatureToleranceS: number;
  /** How long a request waits for Redis, per use (defaults in DEFAULTS; tests on a busy machine wait longer). */
  redisWaitMs?: Partial<RedisWaitsMs>;
}

interface RedisWaitsMs {
  /** /ready: Redis answers PING. */
  readyPing: number;
  /** /ready with details: the hooks' state and the queue's counts. */
  readyState: number;
  /** A GLPI webhook's dedupe and enqueue, each. */
  glpiWebhook: number;
}

/**
 * The HTTP receiver as a Fastify instance; tests drive it with `inject()`, server.ts listens. Each
 * route group is an encapsulated plugin registered here with its own options; what is shared is
 * only what the root sets: timeouts, the shutdown header, the error and not-found answers.
 */
export async function buildApp(input: Omit<AppDeps, 'signatureToleranceS'> & { signatureToleranceS?: number }): Promise<FastifyInstance> {
  const deps: AppDeps = { ...input, signatureToleranceS: input.signatureToleranceS ?? DEFAULTS.signatureToleranceS };
  const app = Fastify({
    // A pino Logger is a FastifyBaseLogger; the cast keeps the app's type the default instance type.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- without it the app is typed with pino's Logger and no longer fits FastifyInstance (tsc fails)
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: deps.config.bodyLimitBytes,
    // Node's own defaults are off (Fastify) or minutes long: a client trickling its headers or
    // body would hold its connection and buffer for as long as it likes.
    requestTimeout: deps.config.requestTimeoutMs,
    http: { headersTimeout: deps.config.headersTimeoutMs, connectionsCheckingInterval: DEFAULTS.connectionsCheckIntervalMs },
    // The webhook route logs one line per delivery with its outcome; Fastify's own two lines would triple that.
    logController: new LogController({ disableRequestLogging: true }),
    // Behind a proxy the client address is still useful in logs; never trusted for auth.
    trustProxy: true,
    return503OnClosing: true,
    // Chatwoot opens a connection per delivery; a long keep-alive only delays shutdown.
    keepAliveTimeout: DEFAULTS.httpKeepAliveTimeoutMs,
    // A URL that cannot be decoded: Fastify's own answer echoes it, `?token=` included.
    frameworkErrors: (error, _req, reply: FastifyReply) => {
      const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
      const tooLong = status === 414;
      void reply.code(status).send({ error: tooLong ? 'uri_too_long' : 'bad_request', message: tooLong ? 'the request URL is too long' : 'the request URL cannot be parsed' });
    },
  });

  // A request in flight when close() starts would leave its socket idle and open, and the server
  // waits for it: tell those clients to close instead, so shutdown is never held by keep-alive.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // A callback hook, not an async one: it runs on every answer, and a promise per answer is garbage.
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (closing) void reply.header('connection', 'close');
    done(null, payload);
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = error.statusCode ?? 500;
    if (status === 413) {
      return reply.code(413).send({ error: 'payload_too_large', message: `body is larger than ${deps.config.bodyLimitBytes} bytes (BODY_LIMIT_BYTES)` });
    }
    if (status >= 400 && status < 500) {
      return reply.code(status).send({ error: error.code ?? 'bad_request', message: error.message });
    }
    req.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ error: 'internal_error', message: 'the bridge could not handle this request; see its logs' });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` }));

  const { config, metrics, redis, keys, queue, spool, ingest } = deps;
  const now = deps.clock ?? Date.now;
  const waits: RedisWaitsMs = {
    readyPing: DEFAULTS.readyRedisTimeoutMs,
    readyState: DEFAULTS.readyQueueTimeoutMs,
    glpiWebhook: DEFAULTS.glpiToChatwoot.webhookRedisTimeoutMs,
    ...deps.redisWaitMs,
  };
  await app.register(healthRoutes, { config, redis, keys, queue, spool, pingTimeoutMs: waits.readyPing, stateTimeoutMs: waits.readyState });
  // The webhook routes only for the api role (the worker serves health, metrics and admin).
  if (ingest) {
    await app.register(chatwootWebhooks, { hooks: config.hooks, ingest, metrics, now, signatureToleranceS: deps.signatureToleranceS });
    await app.register(glpiWebhooks, { hooks: config.hooks, redis, keys, queue, metrics, now, redisTimeoutMs: waits.glpiWebhook });
  }
  await app.register(metricsRoutes, { adminToken: config.adminToken, register: metrics.register, queue, metrics });
  await app.register(adminRoutes, { adminToken: config.adminToken, queue, hookIds: [...config.hooks.keys()] });
  return app;
}
