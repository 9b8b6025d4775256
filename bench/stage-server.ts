import Fastify from 'fastify';
import { compileEventCheck, conversationIdOf } from '../src/chatwoot/events.js';
import { loadConfig } from '../src/config/load.js';
import { authenticate, refuseEarly, type Credentials } from '../src/http/chatwoot-auth.js';
import { dedupeIdsOf, deliveryIdOf, readChatwootEvent } from '../src/http/chatwoot-event.js';
import { header, keepRawBodies } from '../src/http/request.js';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics/metrics.js';
import type { JobStore } from '../src/queue/group-commit.js';
import { createSyncQueue, Ingest } from '../src/queue/producer.js';
import { DiskSpool } from '../src/queue/spool.js';
import { createRedis } from '../src/redis/connection.js';
import { keyOptionsFor, redisKeys } from '../src/redis/keys.js';

/**
 * The bridge's webhook intake cut short after one stage, for the ingest phase (bench/ingest.ts): the same
 * functions the api runs (hook lookup, signature, the event check, group-committed enqueue), in
 * the order it runs them, and a 202 at STAGE:
 *
 * - `auth`: hook lookup and HMAC over the raw body, then `JSON.parse` (the bare endpoint plus auth);
 * - `check`: + the event read (depth bound, parse, compiled schema check, token strip, dedupe ids);
 * - `enqueue`: + Ingest.accept (dedupe claims and BullMQ job add in Redis, group commit).
 * - `xadd`: a what-if, not a path of the bridge: `enqueue` (the same Ingest, group commit and
 *   claims) with each job appended to a Redis stream by a plain XADD instead of BullMQ's add. About
 *   the lightest durable write the intake could make, to show how far its throughput depends on
 *   BullMQ's add (docs/performance.md, eighth round).
 *
 * What the api adds after `enqueue` (its log line, metrics, Fastify's hooks of the real app) is the
 * difference to the bridge itself, measured by the ingest phase. Configured from the environment
 * like the bridge (HOOK_ID, CHATWOOT_WEBHOOK_SECRET, REDIS_URL, REDIS_KEY_PREFIX, SPOOL_DIR, ...).
 */
const stage = process.env.STAGE ?? 'enqueue';
if (!['auth', 'check', 'enqueue', 'xadd'].includes(stage)) throw new Error(`STAGE must be auth, check, enqueue or xadd, not ${stage}`);
const config = loadConfig(process.env);
const keys = redisKeys(config.redisKeyPrefix, keyOptionsFor(config.redis));
const redis = stage === 'enqueue' || stage === 'xadd' ? createRedis(config.redis, 'producer') : undefined;
/**
 * The `xadd` stage's job store: one XADD per job on one stream, where the sync queue runs
 * BullMQ's add script. Not one the bridge could use as it is: a second add of the same job id is
 * not a no-op, and nothing would move the entries into the sync queue.
 */
function streamJobStore(connection: NonNullable<typeof redis>, streamKey: string): JobStore {
  return { add: (_name, data, opts) => connection.xadd(streamKey, '*', 'job', opts.jobId, 'data', JSON.stringify(data)) };
}
const syncQueue = redis === undefined || stage !== 'enqueue' ? undefined : createSyncQueue(redis, keys);
const queue = redis !== undefined && stage === 'xadd' ? streamJobStore(redis, `${config.redisKeyPrefix}:what-if-intake`) : syncQueue;
const ingest =
  redis === undefined || queue === undefined
    ? undefined
    : new Ingest({ queue, redis, keys, spool: new DiskSpool(config.spoolDir), metrics: createMetrics(), logger: createLogger('warn') });

interface Route {
  Params: { hookId: string };
  Querystring: { token?: string | string[] };
  Body: Buffer | undefined;
}

const checkEvent = compileEventCheck();
const app = Fastify({ logger: false, bodyLimit: config.bodyLimitBytes });
keepRawBodies(app);
app.post<Route>('/webhooks/chatwoot/:hookId', async (req, reply) => {
  const hook = config.hooks.get(req.params.hookId);
  if (hook === undefined) return reply.code(404).send({ error: 'unknown_hook' });
  const credentials: Credentials = { signature: header(req.headers, 'x-chatwoot-signature'), timestamp: header(req.headers, 'x-chatwoot-timestamp'), token: req.query.token };
  const body = req.body ?? Buffer.alloc(0);
  if (refuseEarly(hook, credentials) !== undefined) return reply.code(401).send({ error: 'unauthorized' });
  const auth = authenticate(hook, credentials, body, Date.now(), 300);
  if (!auth.ok) return reply.code(401).send({ error: 'unauthorized', message: auth.reason });
  if (stage === 'auth') {
    const payload = JSON.parse(body.toString('utf8')) as { id?: unknown };
    return reply.code(202).send({ status: 'queued', id: String(payload.id) });
  }
  const read = readChatwootEvent(body, hook.enabled, checkEvent);
  if (read.kind !== 'accepted') return reply.code(400).send({ error: 'refused', kind: read.kind });
  const deliveryId = deliveryIdOf(header(req.headers, 'x-chatwoot-delivery'), body);
  const conversationId = conversationIdOf(read.parsed);
  const dedupeIds = dedupeIdsOf(deliveryId, auth.signature, read.parsed);
  if (ingest === undefined) return reply.code(202).send({ status: 'queued', id: `${dedupeIds.length}:${conversationId ?? ''}` });
  const outcome = await ingest.accept({ hookId: hook.id, event: read.eventName, deliveryId, receivedAt: new Date().toISOString(), conversationId, payload: read.payload }, dedupeIds);
  return reply.code(outcome.status === 'duplicate' ? 200 : 202).send({ status: outcome.status, id: outcome.jobId });
});

const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
console.log(`stage server (${stage}) listening at ${address}`);
process.once('SIGTERM', () => {
  ingest?.close();
  void app
    .close()
    .then(() => syncQueue?.close())
    .then(() => redis?.quit())
    .finally(() => process.exit(0));
});
