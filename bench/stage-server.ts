import Fastify from 'fastify';
import { compileEventCheck, conversationIdOf } from '../src/chatwoot/events.js';
import { DEFAULTS } from '../src/config/defaults.js';
import { loadConfig } from '../src/config/load.js';
import { authenticate, refuseEarly, type Credentials } from '../src/http/chatwoot-auth.js';
import { dedupeIdsOf, deliveryIdOf, readChatwootEvent } from '../src/http/chatwoot-event.js';
import { header, keepRawBodies } from '../src/http/request.js';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics/metrics.js';
import { CLAIM_SCRIPT } from '../src/queue/group-commit.js';
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
 * - `xadd`: a what-if, not a path of the bridge: the same group commit and claim script as
 *   `enqueue`, but each delivery that won its claims is appended to one Redis stream by a plain
 *   XADD instead of BullMQ's add. About the lightest durable write a group commit could make, to
 *   show how far the intake's throughput depends on BullMQ's add (docs/performance.md, eighth round).
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
const queue = redis === undefined || stage !== 'enqueue' ? undefined : createSyncQueue(redis, keys);
const ingest =
  stage !== 'enqueue' || redis === undefined || queue === undefined
    ? undefined
    : new Ingest({ queue, redis, keys, spool: new DiskSpool(config.spoolDir), metrics: createMetrics(), logger: createLogger('warn') });

/**
 * The `xadd` stage's group commit: the deliveries of one turn (or that waited for the group in
 * flight) share one call of the bridge's claim script, then each one that won is appended to the
 * stream by its own XADD, sent back to back, where the bridge sends a BullMQ add.
 */
class StreamGroupCommit {
  private pending: { keys: string[]; jobId: string; data: string; settle: (err: Error | undefined) => void }[] = [];
  private scheduled = false;
  private inFlight = false;
  private readonly claim: (numKeys: number, ...args: (string | number)[]) => Promise<(0 | string)[]>;

  constructor(private readonly connection: NonNullable<typeof redis>, private readonly streamKey: string) {
    connection.defineCommand('cgbBenchClaim', { lua: CLAIM_SCRIPT });
    // defineCommand adds the method at run time; ioredis cannot type it.
    this.claim = (connection as unknown as { cgbBenchClaim: StreamGroupCommit['claim'] }).cgbBenchClaim.bind(connection);
  }

  submit(keys: string[], jobId: string, data: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ keys, jobId, data, settle: (err) => (err ? reject(err) : resolve()) });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const group = this.pending;
    this.pending = [];
    if (group.length === 0) return;
    this.inFlight = true;
    const keys = group.flatMap((item) => item.keys);
    const args = group.flatMap((item) => [item.keys.length, item.jobId]);
    void this.claim(keys.length, ...keys, DEFAULTS.dedupeTtlS, ...args)
      .then((seen) => Promise.all(group.filter((_, i) => seen[i] === 0).map((item) => this.connection.xadd(this.streamKey, '*', 'job', item.jobId, 'data', item.data))))
      .then(
        () => group.forEach((item) => item.settle(undefined)),
        (err: unknown) => group.forEach((item) => item.settle(err instanceof Error ? err : new Error(String(err)))),
      )
      .finally(() => {
        this.inFlight = false;
        if (this.pending.length > 0) this.schedule();
      });
  }
}
const streamIntake = stage === 'xadd' && redis !== undefined ? new StreamGroupCommit(redis, `${config.redisKeyPrefix}:{acme}:intake`) : undefined;

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
  if (streamIntake !== undefined) {
    const jobId = `${hook.id}:${deliveryId}`;
    const data = { hookId: hook.id, event: read.eventName, deliveryId, receivedAt: new Date().toISOString(), conversationId, payload: read.payload };
    await streamIntake.submit(dedupeIds.map((id) => keys.dedupe(hook.id, id)), jobId, JSON.stringify(data));
    return reply.code(202).send({ status: 'queued', id: jobId });
  }
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
    .then(() => queue?.close())
    .then(() => redis?.quit())
    .finally(() => process.exit(0));
});
